-- VAPI voice assistants: a workspace's VAPI connection (keys and the webhook secret, encrypted
-- by the backend) and the assistants synced from its VAPI account. Calls land in `calls`.

create table public.voice_connections (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null unique references public.workspaces (id) on delete cascade,
  encrypted_private_key text not null,  -- server API: assistants, phone numbers, calls
  encrypted_public_key text not null,   -- the browser Web SDK
  private_key_last4 text not null,
  public_key_last4 text not null,
  encrypted_webhook_secret text not null,
  -- Hex SHA-256 of the webhook secret: how a delivery finds its workspace without decrypting
  -- every connection's secret.
  webhook_secret_hash text not null unique check (webhook_secret_hash ~ '^[0-9a-f]{64}$'),
  status text not null default 'valid' check (status in ('valid', 'invalid')),
  validated_at timestamptz,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create trigger voice_connections_updated_at before update on public.voice_connections
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('voice_connections', 'configuration');

create table public.voice_assistants (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  vapi_id text not null check (length(vapi_id) between 1 and 200),
  name text not null default '',
  first_message text,
  voice jsonb not null default '{}',
  model jsonb not null default '{}',
  phone_number text check (length(phone_number) <= 32),  -- the VAPI number that rings it
  raw jsonb not null default '{}',  -- the whole Assistant object as VAPI last returned it
  synced_at timestamptz not null default now(),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (workspace_id, vapi_id)
);
create trigger voice_assistants_updated_at before update on public.voice_assistants
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('voice_assistants', 'configuration');
