-- The public widget: what visitors submit through forms, who a verified visitor is, and the
-- secret a workspace's own servers use to vouch for their signed-in users.

-- A workspace's widget identity secret (encrypted by the backend): the host page passes a user
-- id with an HMAC-SHA256 of it under this secret, which only the workspace's servers can make.
create table public.widget_settings (
  workspace_id uuid primary key references public.workspaces (id) on delete cascade,
  encrypted_identity_secret text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create trigger widget_settings_updated_at before update on public.widget_settings
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('widget_settings', 'configuration');

-- A conversation of a visitor the host page vouched for: their id in the workspace's own
-- system, and what the host page said about them.
alter table public.conversations
  add column user_id text check (length(user_id) <= 200),
  add column user_name text check (length(user_name) <= 200),
  add column user_email text check (length(user_email) <= 320);
create index conversations_user_idx on public.conversations (workspace_id, user_id)
  where user_id is not null;

create table public.form_submissions (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null,
  chatbot_id uuid not null,
  form_id uuid not null references public.chatbot_forms (id) on delete cascade,
  conversation_id uuid,
  visitor_id text not null check (length(visitor_id) between 1 and 200),
  submitted_data jsonb not null,
  lead_id uuid references public.leads (id) on delete set null,
  created_at timestamptz not null default now(),
  foreign key (chatbot_id, workspace_id) references public.chatbots (id, workspace_id) on delete cascade,
  foreign key (conversation_id, workspace_id) references public.conversations (id, workspace_id) on delete set null (conversation_id)
);
create index form_submissions_form_idx on public.form_submissions (form_id, created_at desc);
select public.apply_tenant_policy('form_submissions');
