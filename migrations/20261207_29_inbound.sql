-- One inbox for every provider's webhooks (backend/inbound): each delivery, once verified, is
-- stored here in the request's transaction together with its `inbound.process` job, and the
-- request is answered at once; the job applies the event and sets `processed_at` in one
-- transaction, so a crash between storing and processing loses nothing and a job run twice
-- applies the event once. A redelivery finds its row: stored once, and its job queued again
-- only while it is unprocessed. `last_error` says why the last attempt failed or, for a
-- processed event, why it had no effect (an unknown type, …).
--
-- `event_id` is the provider's own id where it has one (Stripe's `evt_…`; VAPI's and
-- ElevenLabs' reports are one per call: the type and the call's id), else a digest of the body
-- (Bolna's executions). Unique per provider and workspace: two workspaces connected to one
-- provider account each keep their copy of a call, as `calls` does; Stripe's events name no
-- workspace (null, one row per event id).
create table public.inbound_events (
  id bigint generated always as identity primary key,
  provider text not null check (provider ~ '^[a-z][a-z0-9_]{0,49}$'),
  event_id text not null check (length(event_id) between 1 and 255),
  workspace_id uuid references public.workspaces (id) on delete cascade,
  type text check (length(type) <= 255),
  payload jsonb not null,
  received_at timestamptz not null default now(),
  processed_at timestamptz,
  attempts integer not null default 0,
  last_error text,
  constraint inbound_events_once unique nulls not distinct (provider, workspace_id, event_id)
);
-- What the sweeper (inbound.retry_stale) reads: events still unprocessed.
create index inbound_events_unprocessed_idx on public.inbound_events (received_at)
  where processed_at is null;
-- The backend's alone, like the job queue: no tenant reads or writes it.
alter table public.inbound_events enable row level security;
revoke all on public.inbound_events from anon, authenticated;

-- Stripe's events, with their state, and the jobs waiting to process them (a job running
-- meanwhile, or lost, leaves its event to the sweeper).
insert into public.inbound_events
  (provider, event_id, type, payload, received_at, processed_at, attempts, last_error)
select 'stripe', id, type, payload, received_at, processed_at, attempts, error
from public.stripe_events;

update public.procrastinate_jobs j
set task_name = 'inbound.process',
    queue_name = 'inbound',
    args = jsonb_build_object('inbound_event_id', e.id),
    lock = 'inbound.process:' || e.id,
    queueing_lock = 'inbound.process:' || e.id
from public.inbound_events e
where j.task_name = 'billing.process_stripe_event' and j.status = 'todo'
  and e.provider = 'stripe' and e.event_id = j.args ->> 'event_id';
-- The sweeper's successor is `inbound.retry_stale`, deferred by the worker itself.
delete from public.procrastinate_jobs
where task_name = 'billing.retry_stripe_events' and status = 'todo';

drop table public.stripe_events;
