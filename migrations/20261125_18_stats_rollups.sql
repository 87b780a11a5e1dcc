-- The dashboard's message counts per day, rolled up once a day is over, so a 90-day chart reads
-- 90 rows instead of every message of the quarter. Days are the workspace's own (its time
-- zone when the day was rolled up); a workspace that changes its time zone is rolled up again.
-- Preview conversations (an admin trying a bot in the console) are not counted.

create table public.message_day_counts (
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  day date not null,
  messages integer not null check (messages >= 0),
  primary key (workspace_id, day)
);
select public.apply_tenant_policy('message_day_counts', 'ledger');

-- How far each workspace's days are rolled up: every day up to `rolled_through` (in
-- `time_zone`) is in message_day_counts, days without messages as no row.
create table public.stats_rollups (
  workspace_id uuid primary key references public.workspaces (id) on delete cascade,
  time_zone text not null,
  rolled_through date not null,
  updated_at timestamptz not null default now()
);
select public.apply_tenant_policy('stats_rollups', 'ledger');

-- The overview's conversation count and order look-ups read only these indexes (the row
-- policies need `customer_id` too: a customer's own conversations).
create index conversations_workspace_counted_idx on public.conversations (workspace_id)
  include (customer_id) where not is_preview;
create index conversations_order_lookups_idx on public.conversations (workspace_id)
  include (order_lookups, customer_id) where order_lookups > 0;
