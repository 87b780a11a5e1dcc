-- Stripe: plans, inbound webhook events, and which usage rows were reported to the meter.
-- Every table here belongs to the backend alone: RLS on with no policy, no privileges for the
-- API roles (tenants see their billing through the API, never by reading these tables).

-- Subscription plans. The Stripe price ids live here, not in code: an operator adds or changes
-- a plan with one INSERT … ON CONFLICT (code) DO UPDATE, no deploy. `included_usage` is what the
-- plan's metered price gives free each month (its first graduated tier, configured in Stripe);
-- every usage row is reported in full and Stripe's price does the arithmetic, so the number is
-- here for showing the plan, not for computing overage.
create table public.billing_plans (
  code text primary key check (code ~ '^[a-z0-9][a-z0-9_-]{0,49}$'),
  name text not null check (length(name) between 1 and 100),
  fee_price_id text not null check (fee_price_id ~ '^price_[A-Za-z0-9_]+$'),
  usage_price_id text not null check (usage_price_id ~ '^price_[A-Za-z0-9_]+$'),
  included_usage numeric(14, 4) not null default 0 check (included_usage >= 0),
  active boolean not null default true,
  created_at timestamptz not null default now()
);

-- When a workspace's usage started being metered (its subscription's start): rows before it
-- were prepaid or unmetered and are never reported. Set and cleared with the subscription.
-- The *_event_at columns hold the `created` time of the last invoice / subscription event
-- applied, so that an older event Stripe delivers late cannot undo a newer one.
alter table public.billing_accounts
  add column metered_from timestamptz,
  add column payment_event_at timestamptz,
  add column subscription_event_at timestamptz;

-- Each Stripe event once, by Stripe's id: a redelivery finds its row and changes nothing.
-- `processed_at` is set in the same transaction as the event's effects; `error` says why the
-- last attempt failed or, for a processed event, why it had no effect (an unknown type, …).
create table public.stripe_events (
  id text primary key check (id ~ '^evt_[A-Za-z0-9_]+$' and length(id) <= 255),
  type text not null check (length(type) between 1 and 255),
  payload jsonb not null,
  received_at timestamptz not null default now(),
  processed_at timestamptz,
  attempts integer not null default 0,
  error text
);
create index stripe_events_unprocessed_idx on public.stripe_events (received_at)
  where processed_at is null;

-- Usage rows reported to Stripe's meter, one row per token_usage row at most (the primary key
-- is the exactly-once guarantee on our side). The meter event's `identifier` is the usage id,
-- so a resend after a crash between Stripe's answer and our commit is de-duplicated by Stripe.
-- status: reported (Stripe accepted it) | skipped (never sent; `reason` says why, e.g. older
-- than the 35 days Stripe accepts).
create table public.usage_meter_reports (
  usage_id uuid primary key references public.token_usage (id) on delete cascade,
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  status text not null check (status in ('reported', 'skipped')),
  value bigint not null check (value >= 0),  -- micro-dollars (cost × 1,000,000)
  reason text check (length(reason) <= 500),
  reported_at timestamptz not null default now()
);
create index usage_meter_reports_workspace_idx
  on public.usage_meter_reports (workspace_id, reported_at);

do $$
declare
  t text;
begin
  foreach t in array array['billing_plans', 'stripe_events', 'usage_meter_reports']
  loop
    execute format('alter table public.%I enable row level security', t);
    execute format('revoke all on public.%I from anon, authenticated', t);
  end loop;
end
$$;
