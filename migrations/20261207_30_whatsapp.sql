-- WhatsApp on the Cloud API (backend/whatsapp): a chatbot's numbers and their credentials, the
-- conversation of a bot with a contact on one of its numbers, what a WhatsApp message carries
-- besides its text, the outbox of sends to Meta, synced templates, and the workspace's
-- notification settings. Credentials live in `connections` (provider `whatsapp`, one row per
-- number, account = the phone number id), like every other tenant secret.

-- A chatbot's WhatsApp settings (the bot builder's "Bot Configuration").
create table public.whatsapp_bots (
  chatbot_id uuid primary key,
  workspace_id uuid not null,
  enabled boolean not null default false,
  -- The WhatsApp Business Account whose templates the bot sends.
  business_account_id text check (business_account_id ~ '^[0-9]{1,30}$'),
  -- Hex SHA-256 of the token Meta's webhook handshake presents (the token itself is a secret
  -- of the primary number's connection): the handshake names no bot, so it is found by hash.
  verify_token_hash text check (verify_token_hash ~ '^[0-9a-f]{64}$'),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  foreign key (chatbot_id, workspace_id) references public.chatbots (id, workspace_id)
    on delete cascade
);
create index whatsapp_bots_verify_token_idx on public.whatsapp_bots (verify_token_hash)
  where verify_token_hash is not null;
create trigger whatsapp_bots_updated_at before update on public.whatsapp_bots
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('whatsapp_bots', 'configuration');

-- A bot's numbers: the primary (chat, OTPs, order updates) and an optional marketing number
-- (cart reminders, announcements). The phone number id is the key: a number belongs to one bot
-- on the whole platform, and Meta's webhooks are routed by it before any workspace is known.
create table public.whatsapp_numbers (
  phone_number_id text primary key check (phone_number_id ~ '^[0-9]{1,30}$'),
  workspace_id uuid not null,
  chatbot_id uuid not null,
  role text not null check (role in ('primary', 'marketing')),
  -- What Meta says of the number, when its token was checked.
  display_phone_number text check (length(display_phone_number) <= 40),
  verified_name text check (length(verified_name) <= 200),
  quality_rating text check (length(quality_rating) <= 20),
  -- The pace of sends from this number (Meta's throughput: 80 by default), and the time the
  -- next send may go: each send reserves its slot by moving it on (backend/whatsapp/sender.py),
  -- so every worker shares one pace per number.
  messages_per_second integer not null default 80 check (messages_per_second between 1 and 1000),
  next_send_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (chatbot_id, role),
  foreign key (chatbot_id, workspace_id) references public.chatbots (id, workspace_id)
    on delete cascade
);
create index whatsapp_numbers_workspace_idx on public.whatsapp_numbers (workspace_id);
create trigger whatsapp_numbers_updated_at before update on public.whatsapp_numbers
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('whatsapp_numbers', 'configuration');

-- The workspace's WhatsApp notifications (the commerce webhooks) and keywords.
create table public.whatsapp_settings (
  workspace_id uuid primary key references public.workspaces (id) on delete cascade,
  -- Which WhatsApp bot sends the notifications, when the workspace has several.
  notification_chatbot_id uuid,
  otp_template text not null default 'otp' check (length(otp_template) between 1 and 512),
  cart_reminder_template text not null default 'cart_reminder'
    check (length(cart_reminder_template) between 1 and 512),
  order_update_template text not null default 'order_update'
    check (length(order_update_template) between 1 and 512),
  new_product_template text not null default 'new_product'
    check (length(new_product_template) between 1 and 512),
  template_language text not null default 'en' check (template_language ~ '^[a-z]{2,3}(_[A-Za-z]{2,4})?$'),
  -- Inbound words that withdraw or give marketing consent, besides STOP and START.
  opt_out_words text[] not null default '{}' check (cardinality(opt_out_words) <= 50),
  opt_in_words text[] not null default '{}' check (cardinality(opt_in_words) <= 50),
  updated_at timestamptz not null default now(),
  foreign key (notification_chatbot_id, workspace_id) references public.chatbots (id, workspace_id)
    on delete set null (notification_chatbot_id)
);
create trigger whatsapp_settings_updated_at before update on public.whatsapp_settings
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('whatsapp_settings', 'configuration');

-- Message templates as Meta last listed them for a business account.
create table public.whatsapp_templates (
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  business_account_id text not null check (business_account_id ~ '^[0-9]{1,30}$'),
  name text not null check (length(name) between 1 and 512),
  language text not null check (length(language) between 1 and 20),
  template_id text check (length(template_id) <= 64),
  category text check (length(category) <= 40),
  status text check (length(status) <= 40),
  parameter_format text check (length(parameter_format) <= 20),
  components jsonb not null default '[]' check (jsonb_typeof(components) = 'array'),
  synced_at timestamptz not null default now(),
  primary key (workspace_id, business_account_id, name, language)
);
select public.apply_tenant_policy('whatsapp_templates', 'configuration');

-- Every send to Meta, written before the call: its id travels to Meta as
-- `biz_opaque_callback_data` and comes back on the message's status webhooks, so a send whose
-- outcome a crash hid is settled by Meta's report instead of being sent again. A message is one
-- send, or several parts for a long answer.
create table public.whatsapp_outbox (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null,
  message_id uuid not null,  -- our message (public.messages)
  part smallint not null default 0 check (part >= 0),
  phone_number_id text not null,  -- the number it goes from
  recipient text not null check (recipient ~ '^[0-9]{6,20}$'),  -- WhatsApp id (the digits)
  -- The Graph API body, without `messaging_product` and `biz_opaque_callback_data`.
  payload jsonb not null check (jsonb_typeof(payload) = 'object'),
  kind text not null check (kind ~ '^[a-z][a-z_]{0,39}$'),  -- chat, api, otp, cart_reminder, …
  status text not null default 'queued' check (status in ('queued', 'sending', 'sent', 'failed')),
  attempts integer not null default 0,
  wamid text check (length(wamid) <= 200),
  error_code text check (length(error_code) <= 100),
  error_message text check (length(error_message) <= 2000),
  claimed_at timestamptz,
  sent_at timestamptz,
  created_at timestamptz not null default now(),
  unique (message_id, part)
);
create index whatsapp_outbox_wamid_idx on public.whatsapp_outbox (wamid) where wamid is not null;
-- How many of a kind went to one recipient lately (five OTPs per phone per hour).
create index whatsapp_outbox_recipient_idx
  on public.whatsapp_outbox (workspace_id, recipient, kind, created_at);
-- Members read it; only the backend writes it (a member's send goes through the API).
alter table public.whatsapp_outbox enable row level security;
create policy whatsapp_outbox_read on public.whatsapp_outbox
  for select using (public.has_workspace_access(workspace_id));
create policy whatsapp_outbox_write on public.whatsapp_outbox
  for all using (public.is_backend_principal(workspace_id))
  with check (public.is_backend_principal(workspace_id));

-- What a message carries besides its text, and which message an answer answers.
alter table public.messages
  -- Meta's type for a WhatsApp message (text, image, location, template, interactive, …).
  add column kind text not null default 'text' check (kind ~ '^[a-z][a-z_]{0,39}$'),
  -- Its typed content: a media reference (id, mime type, caption, file name), a location, the
  -- contacts shared, a reaction's target, a reply's button id, a template and its parameters.
  add column details jsonb not null default '{}' check (jsonb_typeof(details) = 'object'),
  -- The inbound message an assistant's answer answers (channels that store the question
  -- first): one answer per message, however often its job runs.
  add column reply_to uuid;
create unique index messages_reply_to_idx on public.messages (reply_to) where reply_to is not null;

-- The person a conversation is with (WhatsApp's are always a contact), and which of the
-- channel's accounts it is on (a WhatsApp phone number id): answers go back the same way.
alter table public.conversations
  add column contact_id uuid,
  add column channel_account text check (length(channel_account) <= 200),
  add constraint conversations_contact_fk foreign key (contact_id, workspace_id)
    references public.contacts (id, workspace_id) on delete set null (contact_id);
-- One open conversation per bot, contact and number: concurrent messages find the same one.
create unique index conversations_open_contact_idx
  on public.conversations (chatbot_id, contact_id, channel, coalesce(channel_account, ''))
  where contact_id is not null and status <> 'closed';
create index conversations_contact_idx on public.conversations (contact_id)
  where contact_id is not null;

-- Meta's 131047 ("re-engagement message") says the 24-hour window is closed, whatever our
-- clock says; a later inbound message opens it again.
alter table public.contact_last_inbound add column window_closed_at timestamptz;
