-- ElevenLabs "WhatsApp agents": a workspace's ElevenLabs connection (its API key and the post-call
-- webhook's HMAC secret, both encrypted by the backend) and the agents synced from its account.
-- Conversations land in `calls` (provider 'elevenlabs').

create table public.elevenlabs_connections (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null unique references public.workspaces (id) on delete cascade,
  encrypted_api_key text not null,
  api_key_last4 text not null,
  -- `GET /v1/user`'s subscription as last seen; null when the key may not read it (a key
  -- without the user_read permission is still a valid key).
  subscription jsonb,
  subscription_tier text check (length(subscription_tier) <= 100),
  -- ElevenLabs generates the webhook secret in its dashboard; the admin hands it to us.
  encrypted_webhook_secret text,
  -- The last segment of this connection's webhook URL: a delivery finds its workspace by it
  -- before the signature is checked with that workspace's secret. Not a credential itself.
  webhook_token text not null unique check (webhook_token ~ '^[A-Za-z0-9_-]{32,64}$'),
  status text not null default 'valid' check (status in ('valid', 'invalid')),
  validated_at timestamptz,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create trigger elevenlabs_connections_updated_at before update on public.elevenlabs_connections
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('elevenlabs_connections', 'configuration');

create table public.whatsapp_agents (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  agent_id text not null check (length(agent_id) between 1 and 200),  -- ElevenLabs' id
  name text not null default '',
  -- Ours: 'archived' hides the agent from the customer portal. Set by the admin, or by a sync
  -- that finds the agent archived on ElevenLabs.
  status text not null default 'active' check (status in ('active', 'archived')),
  first_message text,
  system_prompt text,
  language text check (length(language) <= 20),
  llm text check (length(llm) <= 100),
  phone_numbers jsonb not null default '[]',  -- [{phone_number, label, provider, phone_number_id}]
  raw jsonb not null default '{}',  -- the whole agent as ElevenLabs last returned it
  synced_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (workspace_id, agent_id)
);
create trigger whatsapp_agents_updated_at before update on public.whatsapp_agents
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('whatsapp_agents', 'configuration');
