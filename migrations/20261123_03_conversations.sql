-- Conversations and messages, model usage and what it costs, budgets, the response cache,
-- and leads captured in conversations.

do $$
begin
  -- Supabase keeps extensions in their own schema; a plain PostgreSQL has none.
  if exists (select from pg_namespace where nspname = 'extensions') then
    create extension if not exists vector with schema extensions;
  else
    create extension if not exists vector;
  end if;
end
$$;

create table public.conversations (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null,
  chatbot_id uuid not null,
  visitor_id text check (length(visitor_id) <= 200),
  channel text not null default 'widget' check (channel in ('widget', 'api', 'whatsapp', 'portal', 'voice')),
  status text not null default 'active' check (status in ('active', 'closed', 'escalated')),
  -- Builder previews: stored so the admin can read them, left out of analytics (their model
  -- calls still cost the workspace, so they count against its budget).
  is_preview boolean not null default false,
  message_count integer not null default 0,
  started_at timestamptz not null default now(),
  last_message_at timestamptz not null default now(),
  closed_at timestamptz,
  close_reason text,
  summary text,
  metadata jsonb not null default '{}',
  unique (id, workspace_id),
  foreign key (chatbot_id, workspace_id) references public.chatbots (id, workspace_id) on delete cascade
);
create index conversations_visitor_idx on public.conversations (chatbot_id, visitor_id);
create index conversations_workspace_recent_idx on public.conversations (workspace_id, last_message_at desc);
select public.apply_tenant_policy('conversations');

create table public.messages (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null,
  conversation_id uuid not null,
  role text not null check (role in ('user', 'assistant')),
  content text not null,
  -- Where an assistant answer came from: the model, the response cache, an FAQ, the
  -- knowledge base without a model, or the fallback message.
  source text check (source in ('model', 'cache', 'faq', 'knowledge', 'fallback')),
  cached_response boolean not null default false,
  model text,
  prompt_tokens integer not null default 0,
  completion_tokens integer not null default 0,
  cached_tokens integer not null default 0,
  cost numeric(12, 6) not null default 0,
  latency_ms integer,
  actions jsonb not null default '[]',   -- tool calls made while answering
  citations jsonb not null default '[]', -- sources the answer used: [{title, url}]
  created_at timestamptz not null default clock_timestamp(),
  foreign key (conversation_id, workspace_id) references public.conversations (id, workspace_id) on delete cascade
);
create index messages_conversation_idx on public.messages (conversation_id, created_at);
select public.apply_tenant_policy('messages');

-- One row per metered call, priced when it happened (price_version), never rewritten.
create table public.token_usage (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  chatbot_id uuid,
  conversation_id uuid,
  message_id uuid,
  service text not null,  -- OPENAI_GPT, OPENAI_EMBEDDING, …
  channel text not null,  -- CHAT, API, WHATSAPP, …
  model text not null,
  prompt_tokens integer not null default 0,
  completion_tokens integer not null default 0,
  cached_tokens integer not null default 0,
  total_tokens integer not null default 0,
  cost numeric(12, 6) not null,
  price_version text not null,
  is_preview boolean not null default false,
  created_at timestamptz not null default now()
);
create index token_usage_workspace_idx on public.token_usage (workspace_id, created_at);
select public.apply_tenant_policy('token_usage', 'ledger');

-- Credits and the monthly budget. Tenants read their row; only the backend writes it (a member
-- must not be able to grant themselves credits through the Supabase API).
create table public.billing_accounts (
  workspace_id uuid primary key references public.workspaces (id) on delete cascade,
  total_credits numeric(14, 4) not null default 0,
  used_credits numeric(14, 4) not null default 0,
  monthly_budget numeric(14, 4) check (monthly_budget is null or monthly_budget >= 0),
  spend_month date not null default date_trunc('month', now())::date,
  month_spend numeric(14, 6) not null default 0,
  is_paused boolean not null default false,
  paused_reason text,
  updated_at timestamptz not null default now()
);
alter table public.billing_accounts enable row level security;
create policy billing_accounts_read on public.billing_accounts for select
  using (public.has_workspace_access(workspace_id));

create table public.response_cache (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null,
  chatbot_id uuid not null,
  cache_version integer not null,
  question text not null,
  normalized_question text not null,
  answer text not null,
  citations jsonb not null default '[]',
  embedding vector,
  channel text not null default 'CHAT',
  hits integer not null default 0,
  last_hit_at timestamptz,
  created_at timestamptz not null default now(),
  unique (chatbot_id, cache_version, normalized_question),
  foreign key (chatbot_id, workspace_id) references public.chatbots (id, workspace_id) on delete cascade
);
select public.apply_tenant_policy('response_cache');

create table public.leads (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  chatbot_id uuid,
  conversation_id uuid,
  name text,
  email text,
  phone text,
  company text,
  notes text,
  source text not null default 'chat',
  created_at timestamptz not null default now()
);
create index leads_workspace_idx on public.leads (workspace_id, created_at desc);
select public.apply_tenant_policy('leads');

-- Money held by model calls in flight. A reservation that is never settled (a crashed
-- process) simply ages out of the sum after a few minutes.
create table public.billing_reservations (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  amount numeric(14, 6) not null check (amount >= 0),
  created_at timestamptz not null default now()
);
create index billing_reservations_workspace_idx on public.billing_reservations (workspace_id, created_at);
alter table public.billing_reservations enable row level security;
