-- Chatbots and what they are built from: the workspace's AI configuration, provider
-- connections (secrets encrypted by the backend), FAQs, forms and actions.

-- A principal the backend bound to the workspace (a job, a chat turn, an API key): never a
-- Supabase user, since only the backend can put `vx_workspace_id` into the claims.
create function public.is_backend_principal(ws uuid) returns boolean
language sql stable as $$
  select coalesce((auth.jwt() ->> 'vx_workspace_id')::uuid = ws, false)
$$;

-- The standard tenant policies. 'activity' (conversations, messages …): members and the backend
-- read and write their workspace's rows. 'configuration' (bots, keys, prompts): members read,
-- only owners, admins and the backend write. 'ledger' (usage): members read, only the backend
-- writes. Nobody sees another workspace's rows.
create function public.apply_tenant_policy(table_name text, kind text default 'activity')
returns void
language plpgsql as $$
declare
  writer text := case kind
    when 'activity' then 'public.has_workspace_access(workspace_id)'
    when 'configuration' then
      '(public.is_workspace_admin(workspace_id) or public.is_backend_principal(workspace_id))'
    when 'ledger' then 'public.is_backend_principal(workspace_id)'
  end;
begin
  if writer is null then
    raise exception 'unknown policy kind %', kind;
  end if;
  execute format('alter table public.%I enable row level security', table_name);
  execute format('create policy %I on public.%I for select using (public.has_workspace_access(workspace_id))',
                 table_name || '_read', table_name);
  execute format('create policy %I on public.%I for insert with check (%s)',
                 table_name || '_insert', table_name, writer);
  if kind <> 'ledger' then
    execute format('create policy %I on public.%I for update using (%s) with check (%s)',
                   table_name || '_update', table_name, writer, writer);
    execute format('create policy %I on public.%I for delete using (%s)',
                   table_name || '_delete', table_name, writer);
  end if;
end
$$;
revoke execute on function public.apply_tenant_policy(text, text) from public, anon, authenticated;

-- The business profile of the omnichannel API (`GET /api/business/me`).
alter table public.workspaces
  add column email text check (length(email) <= 320),
  add column phone text check (length(phone) <= 32),
  add column industry text check (length(industry) <= 100);

create table public.ai_configs (
  workspace_id uuid primary key references public.workspaces (id) on delete cascade,
  custom_prompt text not null default '' check (length(custom_prompt) <= 8000),
  tone text not null default 'friendly' check (length(tone) <= 50),
  language text not null default 'en' check (length(language) <= 20),
  prohibited_topics text[] not null default '{}',
  fallback_message text not null
    default 'Sorry, I can''t answer that right now. Let me connect you with a human.'
    check (length(fallback_message) between 1 and 1000),
  updated_at timestamptz not null default now()
);
create trigger ai_configs_updated_at before update on public.ai_configs
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('ai_configs', 'configuration');

create table public.openai_connections (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null unique references public.workspaces (id) on delete cascade,
  encrypted_api_key text not null,
  key_last4 text not null,
  status text not null default 'valid' check (status in ('valid', 'invalid')),
  models text[] not null default '{}',  -- what the key may use, from the provider's model list
  validated_at timestamptz,
  last_error text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create trigger openai_connections_updated_at before update on public.openai_connections
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('openai_connections', 'configuration');

-- The merchant's own product and order API, used by the bot as tools.
create table public.commerce_connections (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null unique references public.workspaces (id) on delete cascade,
  base_url text not null check (base_url ~ '^https?://'),
  encrypted_api_key text not null,
  key_last4 text not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create trigger commerce_connections_updated_at before update on public.commerce_connections
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('commerce_connections', 'configuration');

create table public.chatbots (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  name text not null check (length(name) between 1 and 100),
  description text not null default '' check (length(description) <= 1000),
  system_prompt text not null default '' check (length(system_prompt) <= 20000),
  model text not null default 'gpt-4o-mini',
  temperature numeric(3, 2) not null default 0.7 check (temperature between 0 and 2),
  max_tokens integer not null default 800 check (max_tokens between 1 and 16000),
  first_message text not null default 'Hi! How can I help?',
  placeholder_text text not null default 'Type your message...',
  theme jsonb not null default
    '{"primary_color": "#6366f1", "secondary_color": "#ffffff", "position": "bottom-right", "avatar": null}',
  allowed_domains text[] not null default '{}',
  is_active boolean not null default true,
  -- A readable summary of the bot's knowledge sources (the documented column); retrieval reads
  -- the knowledge chunks.
  knowledge_base text not null default '',
  -- Bumped whenever the prompt, FAQs or knowledge change: older cached answers stop matching.
  cache_version integer not null default 1,
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (id, workspace_id)
);
create index chatbots_workspace_id_idx on public.chatbots (workspace_id, created_at);
create trigger chatbots_updated_at before update on public.chatbots
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('chatbots', 'configuration');

-- Children reference (chatbot_id, workspace_id) so that a row can never join a bot of another
-- workspace, whatever the application does.
create table public.chatbot_faqs (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null,
  chatbot_id uuid not null,
  question text not null check (length(question) between 1 and 1000),
  answer text not null check (length(answer) between 1 and 10000),
  question_variants text[] not null default '{}',
  category text check (length(category) <= 100),
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  foreign key (chatbot_id, workspace_id) references public.chatbots (id, workspace_id) on delete cascade
);
create index chatbot_faqs_chatbot_id_idx on public.chatbot_faqs (chatbot_id);
create trigger chatbot_faqs_updated_at before update on public.chatbot_faqs
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('chatbot_faqs', 'configuration');

create table public.chatbot_forms (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null,
  chatbot_id uuid not null,
  name text not null check (length(name) between 1 and 100),
  title text not null default '',
  description text not null default '',
  fields jsonb not null default '[]',
  submit_message text not null default 'Thank you! We will be in touch.',
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  foreign key (chatbot_id, workspace_id) references public.chatbots (id, workspace_id) on delete cascade
);
create index chatbot_forms_chatbot_id_idx on public.chatbot_forms (chatbot_id);
create trigger chatbot_forms_updated_at before update on public.chatbot_forms
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('chatbot_forms', 'configuration');

-- Tools the model may call: one HTTP request each, made through the SSRF-safe client.
create table public.chatbot_actions (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null,
  chatbot_id uuid not null,
  name text not null check (name ~ '^[a-zA-Z0-9_-]{1,64}$'),
  description text not null default '' check (length(description) <= 1000),
  method text not null default 'GET' check (method in ('GET', 'POST', 'PUT', 'PATCH', 'DELETE')),
  -- Placeholders ({name}) only after the host: the model fills them, it must not pick the host.
  url_template text not null check (url_template ~ '^https?://[^/{}?#]+([/?#]|$)'),
  encrypted_headers text,  -- JSON object of headers (they often hold credentials)
  parameters jsonb not null default '{"type": "object", "properties": {}}',
  is_active boolean not null default true,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (chatbot_id, name),
  foreign key (chatbot_id, workspace_id) references public.chatbots (id, workspace_id) on delete cascade
);
create trigger chatbot_actions_updated_at before update on public.chatbot_actions
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('chatbot_actions', 'configuration');

-- Whatever changes what a bot answers makes its cached answers stale, whoever writes it (the
-- API, or a console writing to Supabase directly): the bot's cache version moves on.
create function public.bump_cache_version() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_table_name = 'chatbots' then
    if (new.system_prompt, new.model, new.temperature, new.max_tokens, new.knowledge_base)
       is distinct from
       (old.system_prompt, old.model, old.temperature, old.max_tokens, old.knowledge_base) then
      new.cache_version := old.cache_version + 1;
    end if;
    return new;
  elsif tg_table_name = 'ai_configs' then
    update public.chatbots set cache_version = cache_version + 1
    where workspace_id = coalesce(new.workspace_id, old.workspace_id);
  else  -- chatbot_faqs, chatbot_actions
    update public.chatbots set cache_version = cache_version + 1
    where id = coalesce(new.chatbot_id, old.chatbot_id);
  end if;
  return null;
end
$$;
create trigger chatbots_cache_version before update on public.chatbots
  for each row execute function public.bump_cache_version();
create trigger ai_configs_cache_version after insert or update or delete on public.ai_configs
  for each row execute function public.bump_cache_version();
create trigger chatbot_faqs_cache_version after insert or update or delete on public.chatbot_faqs
  for each row execute function public.bump_cache_version();
create trigger chatbot_actions_cache_version after insert or update or delete on public.chatbot_actions
  for each row execute function public.bump_cache_version();
