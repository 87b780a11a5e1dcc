-- E-mail a workspace sends through the platform (`POST /api/notifications/email`), receives
-- from its website's contact form, or its customers are sent (portal sign-in links), one row per
-- e-mail with what became of it. The row is the
-- record of what the platform sent in the workspace's name: only the backend writes it.

create table public.emails (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  kind text not null check (kind in ('notification', 'contact', 'sign_in_link')),
  to_email text not null check (length(to_email) between 3 and 320),
  from_name text check (length(from_name) between 1 and 100 and from_name !~ '[<>"\\[:cntrl:]]'),
  -- No line breaks: the subject becomes a header.
  subject text not null check (length(subject) between 1 and 200 and subject !~ '[[:cntrl:]]'),
  html text not null check (octet_length(html) <= 204800),
  text text not null check (octet_length(text) <= 204800),
  -- queued: waiting for (or between) attempts; outbox: kept here instead of sent, because no
  -- e-mail provider is configured (readable through the API).
  status text not null default 'queued' check (status in ('queued', 'sent', 'failed', 'outbox')),
  provider_id text check (length(provider_id) <= 200),  -- Resend's id of the e-mail
  error text check (length(error) <= 1000),
  attempts integer not null default 0,
  -- The caller's `Idempotency-Key`: the same key again is the same e-mail.
  idempotency_key text check (length(idempotency_key) between 1 and 255),
  -- Who asked: an admin, an API key, or a visitor of a bot's website (contact form).
  created_by uuid references auth.users (id) on delete set null,
  api_key_id uuid references public.api_keys (id) on delete set null,
  chatbot_id uuid,
  created_at timestamptz not null default now(),
  sent_at timestamptz,
  unique (workspace_id, idempotency_key),
  foreign key (chatbot_id, workspace_id) references public.chatbots (id, workspace_id)
    on delete set null (chatbot_id)
);
create index emails_workspace_idx on public.emails (workspace_id, created_at desc, id desc);
create index emails_workspace_status_idx on public.emails (workspace_id, status, created_at desc);

-- Stricter than the standard kinds: only owners and admins read the workspace's mail (an
-- integration may send sign-in codes through it), and only the backend writes it, so that no
-- member can forge or erase the record. Nobody deletes rows but the workspace's own deletion.
alter table public.emails enable row level security;
create policy emails_read on public.emails for select
  using (public.is_workspace_admin(workspace_id) or public.is_backend_principal(workspace_id));
create policy emails_insert on public.emails for insert
  with check (public.is_backend_principal(workspace_id));
create policy emails_update on public.emails for update
  using (public.is_backend_principal(workspace_id))
  with check (public.is_backend_principal(workspace_id));
