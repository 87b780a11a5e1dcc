-- How a workspace pays, and the ledger of credits it was given.
--
-- billing_mode:
--   unmetered     no billing (the embedded mode, or billing not configured): spend is recorded,
--                 only the monthly budget limits it;
--   prepaid       usage is charged against credits; no credits left pauses the workspace;
--   subscription  a Stripe plan: usage beyond it is reported to Stripe's meter as overage.
-- paused_reason (billing_accounts, unchanged): 'budget', 'credits' or 'payment'.

alter table public.billing_accounts
  add column billing_mode text not null default 'unmetered'
    check (billing_mode in ('unmetered', 'prepaid', 'subscription')),
  add column stripe_customer_id text unique check (stripe_customer_id ~ '^cus_[A-Za-z0-9]+$'),
  add column stripe_subscription_id text check (length(stripe_subscription_id) <= 255),
  add column plan text check (length(plan) <= 100),
  -- Stripe's subscription status as last received (active, past_due, canceled, …).
  add column subscription_status text check (length(subscription_status) <= 50),
  -- When an invoice first failed; cleared when one is paid. Past the grace period: paused.
  add column payment_failed_at timestamptz;

-- Every credit a workspace received, once per (workspace, source, reference): a Checkout session
-- is credited once however many times Stripe delivers its event, and an operator's reference
-- means something within its workspace only (the same reference may be used for another one).
-- Written by the backend only.
create table public.credit_grants (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  amount numeric(14, 4) not null check (amount <> 0),
  source text not null check (source in ('free', 'checkout', 'cli', 'adjustment')),
  reference text not null check (length(reference) between 1 and 255),
  note text check (length(note) <= 500),
  created_at timestamptz not null default now(),
  unique (workspace_id, source, reference)
);
create index credit_grants_workspace_idx on public.credit_grants (workspace_id, created_at desc);
select public.apply_tenant_policy('credit_grants', 'ledger');
