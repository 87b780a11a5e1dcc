-- Leads extracted from conversations: one per person and workspace (by e-mail or phone), linked
-- to the customer they are; conversations remember that they were read, so a batch reads each
-- once however often it runs.
alter table public.conversations add column leads_extracted_at timestamptz;
create index conversations_unread_leads_idx on public.conversations (chatbot_id, last_message_at)
  where leads_extracted_at is null and not is_preview;

alter table public.leads
  add column customer_id uuid references public.customers (id) on delete set null,
  add column updated_at timestamptz not null default now();
create index leads_email_idx on public.leads (workspace_id, lower(email)) where email is not null;
create index leads_phone_idx on public.leads (workspace_id, phone) where phone is not null;
create index leads_chatbot_idx on public.leads (chatbot_id, created_at desc);
create trigger leads_updated_at before update on public.leads
  for each row execute function public.set_updated_at();
