-- Contacts: one person per phone number and channel identity in a workspace, whatever channel
-- they write from. A WhatsApp id is the phone's digits, so a person who writes on WhatsApp and is
-- added by phone is one contact. The bot builder's `/flows/contacts/` reads and writes them.

create table public.contacts (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  phone text check (phone ~ '^\+[1-9][0-9]{6,14}$'),  -- E.164
  first_name text check (length(first_name) <= 100),
  last_name text check (length(last_name) <= 100),
  email text check (email = lower(email) and length(email) <= 320),
  -- The bot builder's custom attributes (`{"plan": "gold"}`), read by flows.
  attributes jsonb not null default '{}' check (jsonb_typeof(attributes) = 'object'),
  marketing_opt_in boolean not null default false,
  opt_in_changed_at timestamptz,
  opt_in_source text check (length(opt_in_source) <= 100),
  -- The workspace's customer with the same phone or e-mail.
  customer_id uuid,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (id, workspace_id),
  foreign key (customer_id, workspace_id) references public.customers (id, workspace_id)
    on delete set null (customer_id)
);
-- The arbiter of concurrent find-or-create by phone (`on conflict`).
create unique index contacts_phone_idx on public.contacts (workspace_id, phone)
  where phone is not null;
create index contacts_recent_idx on public.contacts (workspace_id, created_at desc, id);
create index contacts_customer_idx on public.contacts (customer_id) where customer_id is not null;
create trigger contacts_updated_at before update on public.contacts
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('contacts');

-- The ids a contact was seen under on each channel: a WhatsApp id, a widget visitor id.
create table public.contact_identities (
  workspace_id uuid not null,
  channel text not null check (channel ~ '^[a-z][a-z_]{0,29}$'),
  external_id text not null check (length(external_id) between 1 and 200),
  contact_id uuid not null,
  -- The name the channel shows (WhatsApp's profile name), as last seen.
  profile_name text check (length(profile_name) <= 200),
  created_at timestamptz not null default now(),
  primary key (workspace_id, channel, external_id),
  -- Deferred: a contact first seen on a channel is created in one statement with its identity,
  -- the identity row first (its key is what decides, between two concurrent callers, who creates).
  foreign key (contact_id, workspace_id) references public.contacts (id, workspace_id)
    on delete cascade deferrable initially deferred
);
create index contact_identities_contact_idx on public.contact_identities (contact_id);
select public.apply_tenant_policy('contact_identities');

-- When the contact last wrote on each channel: WhatsApp answers freely only within 24 hours of
-- it. A row per contact and channel, so that a bulk send asks for a whole list in one query.
create table public.contact_last_inbound (
  contact_id uuid not null,
  channel text not null check (channel ~ '^[a-z][a-z_]{0,29}$'),
  workspace_id uuid not null,
  last_inbound_at timestamptz not null,
  primary key (contact_id, channel),
  foreign key (contact_id, workspace_id) references public.contacts (id, workspace_id)
    on delete cascade
);
create index contact_last_inbound_channel_idx
  on public.contact_last_inbound (workspace_id, channel, last_inbound_at);
select public.apply_tenant_policy('contact_last_inbound');
