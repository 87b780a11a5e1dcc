-- Domain events: what happened in a workspace (`conversation.created`, `message.created`,
-- `contact.opted_out`, `call.ended`, …), written in the same transaction as the change itself, so
-- an event exists if and only if its change was committed. Jobs read them: the flows, triggers,
-- campaigns and outbound webhooks of later issues. Members read their workspace's events; only
-- the backend writes them, and nobody rewrites one.
create table public.events (
  id bigint generated always as identity primary key,
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  type text not null check (type ~ '^[a-z_]+\.[a-z_]+$'),
  -- The thing the event is about (a conversation, a message, a contact, a lead, a call).
  subject_id uuid,
  payload jsonb not null default '{}',
  created_at timestamptz not null default clock_timestamp()
);
create index events_workspace_idx on public.events (workspace_id, id);
create index events_type_idx on public.events (type, id);
create index events_subject_idx on public.events (subject_id) where subject_id is not null;
select public.apply_tenant_policy('events', 'ledger');
