-- Bolna voice calls: a workspace's Bolna connection (its API key and the agent that makes order
-- confirmation calls), and which call confirms which order. Calls themselves land in `calls`
-- (provider 'bolna', provider_call_id = Bolna's execution id); the last Bolna status applied to
-- a call is kept in `calls.metadata -> 'bolna'`, which is how repeated and late webhook
-- deliveries are recognised (see backend/confirmations/service.py).

create table public.bolna_connections (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null unique references public.workspaces (id) on delete cascade,
  encrypted_api_key text not null,
  api_key_last4 text not null,
  agent_id text not null check (length(agent_id) between 1 and 100),  -- confirmation calls
  agent_name text check (length(agent_name) <= 200),
  -- The caller id for outbound calls (E.164); null: the Bolna account's default number.
  from_phone_number text check (from_phone_number ~ '^\+[1-9][0-9]{6,14}$'),
  -- How national numbers (`9876543210`) are read: ISO 3166 alpha-2.
  default_country text not null default 'IN' check (default_country ~ '^[A-Z]{2}$'),
  -- Bolna signs nothing: its webhook URL carries this random token, which names the workspace.
  -- Hex SHA-256 to find the connection, encrypted to compare in constant time.
  webhook_token_hash text not null unique check (webhook_token_hash ~ '^[0-9a-f]{64}$'),
  encrypted_webhook_token text not null,
  status text not null default 'valid' check (status in ('valid', 'invalid')),
  validated_at timestamptz,
  last_error text check (length(last_error) <= 1000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create trigger bolna_connections_updated_at before update on public.bolna_connections
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('bolna_connections', 'configuration');

-- One confirmation call per order at a time. A request claims the order (claim_id, claimed_at)
-- before calling Bolna and records the call (call_id) after, so concurrent requests for one
-- order place one call; a claim left without a call (the process died mid-request) may be
-- taken over once it is stale, and so may an order whose call was missed or failed.
create table public.order_confirmation_calls (
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  order_id text not null check (length(order_id) between 1 and 100),
  claim_id uuid not null,
  claimed_at timestamptz not null default now(),
  call_id uuid references public.calls (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  primary key (workspace_id, order_id)
);
create index order_confirmation_calls_call_idx on public.order_confirmation_calls (call_id);
create trigger order_confirmation_calls_updated_at before update on public.order_confirmation_calls
  for each row execute function public.set_updated_at();
-- Members read; only the backend writes (the write policies are replaced in 20261125_19).
select public.apply_tenant_policy('order_confirmation_calls');
