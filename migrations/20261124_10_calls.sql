-- Phone and voice calls of every provider (VAPI, ElevenLabs, Bolna), one row per provider call,
-- and what the dashboard's stats need: a workspace's time zone, phones on conversations, order
-- look-ups counted as they happen, and indexes for the per-day and per-status aggregates.

create table public.calls (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  provider text not null check (provider in ('vapi', 'elevenlabs', 'bolna')),
  provider_call_id text not null check (length(provider_call_id) between 1 and 200),
  -- The provider's assistant / agent that took or made the call.
  agent_id text check (length(agent_id) <= 200),
  direction text not null default 'inbound' check (direction in ('inbound', 'outbound', 'web')),
  -- resolved / escalated / missed / failed once over; queued and in_progress before.
  status text not null default 'queued'
    check (status in ('queued', 'in_progress', 'resolved', 'escalated', 'missed', 'failed')),
  phone text check (phone ~ '^[0-9]{6,15}$'),  -- digits of the other party's E.164 number
  customer_id uuid references public.customers (id) on delete set null,
  language text check (length(language) <= 20),
  started_at timestamptz,
  ended_at timestamptz,
  duration_seconds integer check (duration_seconds >= 0),
  transcript text,
  summary text,
  recording_url text check (recording_url ~ '^https?://'),
  cost numeric(12, 6) not null default 0,
  analysis jsonb not null default '{}',
  metadata jsonb not null default '{}',  -- e.g. the order a confirmation call is about
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (provider, provider_call_id)
);
create index calls_workspace_recent_idx on public.calls (workspace_id, started_at desc nulls last, id);
create index calls_workspace_status_idx on public.calls (workspace_id, status, started_at desc nulls last);
create trigger calls_updated_at before update on public.calls
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('calls');

-- Days in the dashboards are the workspace's days.
alter table public.workspaces
  add column time_zone text not null default 'UTC' check (length(time_zone) <= 64);

-- The other party's number on phone-based conversations (WhatsApp), digits only, searchable.
alter table public.conversations
  add column phone text check (phone ~ '^[0-9]{6,15}$'),
  add column order_lookups integer not null default 0;
create index conversations_workspace_status_idx on public.conversations (workspace_id, status, started_at desc);
create index conversations_workspace_started_idx on public.conversations (workspace_id, started_at desc, id);
create index conversations_phone_idx on public.conversations (workspace_id, phone text_pattern_ops)
  where phone is not null;

-- Counting a workspace's messages by day reads only this index: the row policies need
-- `conversation_id` too (a customer's own messages), so it is carried along.
create index messages_workspace_created_idx on public.messages (workspace_id, created_at)
  include (conversation_id);
