-- Budget alerts: a workspace's month's spend reached 80 % or 100 % of its monthly budget.
-- Recorded by the backend in the transaction that settles the spending call, once per
-- (workspace, month, threshold) however many calls cross it; members read them.

create table public.budget_alerts (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  month date not null check (month = date_trunc('month', month)::date),  -- its first day (UTC)
  threshold integer not null check (threshold in (80, 100)),               -- percent of budget
  spend numeric(14, 6) not null,   -- the month's spend when the alert was recorded
  budget numeric(14, 4) not null,  -- the budget it was measured against
  created_at timestamptz not null default now(),
  unique (workspace_id, month, threshold)
);
create index budget_alerts_workspace_recent_idx on public.budget_alerts (workspace_id, created_at desc);
select public.apply_tenant_policy('budget_alerts', 'ledger');

-- The cost breakdown (GET /api/analytics/costs) sums a workspace's usage over a date range by
-- service, channel or day: carrying those columns in the one index the table already has lets
-- it read the index alone, at the same write cost (still one index per usage row).
create index token_usage_workspace_costs_idx on public.token_usage (workspace_id, created_at)
  include (service, channel, cost, is_preview);
drop index public.token_usage_workspace_idx;

-- Prepaid usage is charged to `used_credits` call by call, at the precision usage is priced in
-- (token_usage.cost, month_spend: 6 decimals); at 4 decimals every call under $0.00005 would be
-- rounded away, and the credits used would drift from the usage they stand for.
alter table public.billing_accounts alter column used_credits type numeric(16, 6);

-- What the calls in flight hold: the sum of the workspace's `billing_reservations`, kept on the
-- account so that admitting a call is one conditional update of this row instead of a lock and
-- a sum over the reservations (backend/billing/service.py). Every statement that inserts or
-- deletes reservations moves it by what it inserted or deleted, and it is recounted from the
-- reservations (expired ones, of crashed processes, deleted) whenever it is what refuses a
-- call, so it cannot stay wrong. It starts at zero: the reservations of calls in flight during
-- the deploy are given back by the processes that made them, which do not count them in it.
alter table public.billing_accounts
  add column held numeric(14, 6) not null default 0 check (held >= 0);
