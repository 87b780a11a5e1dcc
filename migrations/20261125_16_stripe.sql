-- Stripe: plans, inbound webhook events, the usage waiting for Stripe's meter and what was
-- reported. Every table here belongs to the backend alone: RLS on with no policy, no privileges
-- for the API roles (tenants see their billing through the API, never by reading these tables).

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

-- The *_event_at columns hold the `created` time of the last invoice / subscription event
-- applied, so that an older event Stripe delivers late cannot undo a newer one.
-- `failed_invoice_id`: the invoice whose failure started the grace period (`payment_failed_at`);
-- voiding it or marking it uncollectible ends the grace period (or the 'payment' pause).
alter table public.billing_accounts
  add column payment_event_at timestamptz,
  add column subscription_event_at timestamptz,
  add column failed_invoice_id text check (length(failed_invoice_id) <= 255);

-- Subscriptions Stripe said are over (deleted, canceled, incomplete_expired), whichever order
-- their events are processed in: a Checkout completion processed after its subscription's end
-- must not put the workspace on that plan for good.
create table public.stripe_ended_subscriptions (
  id text primary key check (length(id) between 1 and 255),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  status text check (length(status) <= 50),
  ended_at timestamptz not null  -- the `created` time of the event that said so
);

-- Each Stripe event once, by Stripe's id: a redelivery finds its row and changes nothing (but
-- queues its job again while it is not processed). `processed_at` is set in the same
-- transaction as the event's effects; `error` says why the last attempt failed or, for a
-- processed event, why it had no effect (an unknown type, …).
create table public.stripe_events (
  id text primary key check (id ~ '^evt_[A-Za-z0-9_]+$' and length(id) <= 255),
  type text not null check (length(type) between 1 and 255),
  payload jsonb not null,
  received_at timestamptz not null default now(),
  processed_at timestamptz,
  attempts integer not null default 0,
  error text
);
-- What the sweeper (billing.retry_stripe_events) reads: events still unprocessed.
create index stripe_events_unprocessed_idx on public.stripe_events (received_at)
  where processed_at is null;

-- Usage that Stripe's meter must receive, decided when the usage is written (not when the
-- meter job runs): a row of a workspace on a plan, with its cost, not a preview. It keeps the
-- Stripe customer of that moment, so a subscription that ends before the job runs loses
-- nothing, and a row written while the workspace was prepaid is never metered. The meter job
-- leases rows (`claimed_until`, `claim_id`: FOR UPDATE SKIP LOCKED, then commit), calls Stripe
-- outside any transaction, and deletes the rows Stripe took in the transaction that records
-- them in usage_meter_reports; a run that dies leaves its lease to run out.
create table public.meter_outbox (
  usage_id uuid primary key references public.token_usage (id) on delete cascade,
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  stripe_customer_id text not null,
  value bigint not null check (value > 0),  -- micro-dollars (cost × 1,000,000)
  created_at timestamptz not null,          -- the usage's time: the meter event's timestamp
  claimed_until timestamptz,
  claim_id uuid
);
create index meter_outbox_order_idx on public.meter_outbox (created_at, usage_id);

-- Fills meter_outbox. Usage is written by the chat engine, leads and knowledge code, all as
-- tenants (SECURITY DEFINER: the outbox is closed to them). The trigger is deferred to the
-- commit: by then the transaction that wrote the usage has settled its cost (billing.settle
-- locks and updates the billing account in the same transaction), so the mode read here is
-- the very one that decided whether the call was charged to credits — a call is charged to
-- credits or metered, never both and never neither, even while the mode changes.
create function public.queue_metered_usage() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  insert into public.meter_outbox (usage_id, workspace_id, stripe_customer_id, value, created_at)
  select new.id, new.workspace_id, a.stripe_customer_id,
         round(new.cost * 1000000)::bigint, new.created_at
  from public.billing_accounts a
  where a.workspace_id = new.workspace_id
    and a.billing_mode = 'subscription'
    and a.stripe_customer_id is not null;
  return null;
end
$$;
create constraint trigger token_usage_metered
  after insert on public.token_usage
  deferrable initially deferred
  for each row when (new.cost > 0 and not new.is_preview)
  execute function public.queue_metered_usage();

-- Usage rows reported to Stripe's meter, one row per token_usage row at most (the primary key
-- is the exactly-once guarantee on our side; the outbox row goes in the same transaction). The
-- meter event's `identifier` is the usage id, so a resend after a crash between Stripe's answer
-- and our commit is de-duplicated by Stripe.
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

do $$
declare
  t text;
begin
  foreach t in array array['billing_plans', 'stripe_ended_subscriptions', 'stripe_events',
                           'meter_outbox', 'usage_meter_reports']
  loop
    execute format('alter table public.%I enable row level security', t);
    execute format('revoke all on public.%I from anon, authenticated', t);
  end loop;
end
$$;
