-- A chatbot's knowledge: its sources (a website, pasted text, an uploaded file), the pages
-- fetched for them, the chunks retrieval searches, and the crawls that fill them.

create table public.knowledge_sources (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null,
  chatbot_id uuid not null,
  kind text not null check (kind in ('website', 'text', 'file')),
  title text not null default '' check (length(title) <= 300),
  url text check (url is null or url ~ '^https?://'),
  max_pages integer not null default 50 check (max_pages between 1 and 10000),
  max_depth integer not null default 3 check (max_depth between 0 and 10),
  refresh text not null default 'manual' check (refresh in ('manual', 'daily', 'weekly')),
  status text not null default 'pending'
    check (status in ('pending', 'crawling', 'ready', 'failed')),
  error text,
  pages integer not null default 0,
  chunks integer not null default 0,
  last_crawled_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (id, workspace_id),
  foreign key (chatbot_id, workspace_id) references public.chatbots (id, workspace_id) on delete cascade
);
create index knowledge_sources_chatbot_idx on public.knowledge_sources (chatbot_id);
create trigger knowledge_sources_updated_at before update on public.knowledge_sources
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('knowledge_sources', 'configuration');

-- One fetched document of a source, with what is needed to skip it when it has not changed.
create table public.knowledge_pages (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null,
  source_id uuid not null,
  url text not null,
  title text not null default '',
  etag text,
  last_modified text,
  content_hash text,
  status text not null check (status in ('fetched', 'unchanged', 'skipped', 'failed')),
  reason text,
  http_status integer,
  bytes integer not null default 0,
  fetched_at timestamptz not null default now(),
  unique (source_id, url),
  foreign key (source_id, workspace_id) references public.knowledge_sources (id, workspace_id) on delete cascade
);
select public.apply_tenant_policy('knowledge_pages', 'configuration');

create table public.knowledge_chunks (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null,
  chatbot_id uuid not null,
  source_id uuid not null,
  page_id uuid not null references public.knowledge_pages (id) on delete cascade,
  ordinal integer not null,
  url text,
  title text not null default '',
  heading text,
  content text not null,
  token_count integer not null,
  -- The document's language for stemming; every chunk is also indexed word for word
  -- ('simple'), so queries in another language or with names and codes still match.
  ts_config regconfig not null default 'simple',
  search tsvector generated always as (
    setweight(to_tsvector(ts_config, title || ' ' || coalesce(heading, '')), 'A')
    || to_tsvector(ts_config, content) || to_tsvector('simple', content)
  ) stored,
  embedding vector(1536),
  created_at timestamptz not null default now(),
  foreign key (source_id, workspace_id) references public.knowledge_sources (id, workspace_id) on delete cascade
);
create index knowledge_chunks_chatbot_idx on public.knowledge_chunks (chatbot_id);
create index knowledge_chunks_search_idx on public.knowledge_chunks using gin (search);
create index knowledge_chunks_embedding_idx on public.knowledge_chunks
  using hnsw (embedding vector_cosine_ops);
select public.apply_tenant_policy('knowledge_chunks', 'configuration');

create table public.crawls (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null,
  chatbot_id uuid not null,
  source_id uuid not null,
  state text not null default 'queued'
    check (state in ('queued', 'running', 'succeeded', 'failed', 'cancelled')),
  cancel_requested boolean not null default false,
  max_pages integer not null,
  pages_found integer not null default 0,
  pages_fetched integer not null default 0,
  pages_unchanged integer not null default 0,
  pages_skipped integer not null default 0,
  pages_failed integer not null default 0,
  bytes integer not null default 0,
  content_extracted integer not null default 0,  -- characters of text extracted
  current_url text,
  error text,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz,
  foreign key (source_id, workspace_id) references public.knowledge_sources (id, workspace_id) on delete cascade
);
create index crawls_source_idx on public.crawls (source_id, created_at desc);
select public.apply_tenant_policy('crawls', 'configuration');

-- New or changed knowledge changes what a bot answers: its cached answers go stale. (One
-- update per statement and bot, whatever the number of chunks it wrote.)
create function public.knowledge_changed() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if tg_op = 'INSERT' then
    update public.chatbots set cache_version = cache_version + 1
    where id in (select distinct chatbot_id from written);
  else
    update public.chatbots set cache_version = cache_version + 1
    where id in (select distinct chatbot_id from removed);
  end if;
  return null;
end
$$;
create trigger knowledge_chunks_inserted after insert on public.knowledge_chunks
  referencing new table as written for each statement execute function public.knowledge_changed();
create trigger knowledge_chunks_deleted after delete on public.knowledge_chunks
  referencing old table as removed for each statement execute function public.knowledge_changed();
