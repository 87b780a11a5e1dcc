-- Knowledge retrieval with every index. Under row-level security Postgres may not use the
-- full-text index for `search @@ query` (the operator is not leakproof, so it must run after the
-- row policy), and it checks the policy on every row it reads. These functions check once that
-- the caller may read the chatbot's workspace, then search that one bot's chunks as the table's
-- owner. Each statement is planned for its own arguments (EXECUTE … USING), so no cached generic
-- plan decides between the index and a scan for a bot it was not made for.

-- The workspace of a chatbot the caller may read, or null.
create function public.readable_chatbot_workspace(p_chatbot uuid) returns uuid
language sql stable security definer set search_path = '' as $$
  select b.workspace_id from public.chatbots b
  where b.id = p_chatbot and public.has_workspace_access(b.workspace_id)
$$;

-- Chunks matching `p_query`, best first. At most `p_ranked` matches are ranked, so a question
-- whose words are everywhere in a large bot costs a bounded amount; `p_skip` leaves out chunks
-- a stricter query already found.
create function public.search_knowledge_text(
  p_chatbot uuid, p_query tsquery, p_limit integer, p_ranked integer, p_skip uuid[] default '{}'
) returns table (id uuid, url text, title text, heading text, content text, rank real)
language plpgsql stable security definer set search_path = '' as $$
declare
  ws uuid := public.readable_chatbot_workspace(p_chatbot);
begin
  if ws is null or p_query is null or numnode(p_query) = 0 then
    return;
  end if;
  -- Ranking reads only the tsvectors; the text of the few chunks kept is read last.
  return query execute $q$
    select c.id, c.url, c.title, c.heading, c.content, best.rank
    from (select m.id, ts_rank_cd(m.search, $2) as rank
          from (select c.id, c.search from public.knowledge_chunks c
                where c.chatbot_id = $1 and c.workspace_id = $3 and c.search @@ $2
                  and not (c.id = any($6))
                limit $4) m
          order by 2 desc, m.id
          limit $5) best
    join public.knowledge_chunks c on c.id = best.id
    order by best.rank desc, c.id
  $q$ using p_chatbot, p_query, ws, p_ranked, p_limit, p_skip;
end
$$;

-- The nearest embedded chunks by cosine distance. The bot's id is written into the statement as a
-- literal, so the planner can take the bot's own HNSW index when it has one (large bots: see
-- backend/knowledge/vector_index.py) and otherwise scans the bot's chunks exactly. There is no
-- index over every bot's vectors: filtered by bot as it is walked, it would miss a large bot's
-- nearest chunks and slow down for a small one.
create function public.search_knowledge_vectors(
  p_chatbot uuid, p_embedding vector, p_limit integer
) returns table (id uuid, url text, title text, heading text, content text, distance double precision)
language plpgsql stable security definer set search_path = '' as $$
declare
  ws uuid := public.readable_chatbot_workspace(p_chatbot);
begin
  if ws is null then
    return;
  end if;
  return query execute format($q$
    select c.id, c.url, c.title, c.heading, c.content, c.embedding <=> $1
    from public.knowledge_chunks c
    where c.chatbot_id = %L and c.workspace_id = %L and c.embedding is not null
    order by c.embedding <=> $1
    limit $2
  $q$, p_chatbot, ws)
  using p_embedding, p_limit;
end
$$;
drop index public.knowledge_chunks_embedding_idx;

revoke execute on function public.readable_chatbot_workspace(uuid) from public, anon;
revoke execute on function public.search_knowledge_text(uuid, tsquery, integer, integer, uuid[])
  from public, anon;
grant execute on function public.readable_chatbot_workspace(uuid) to authenticated, service_role;
grant execute on function public.search_knowledge_text(uuid, tsquery, integer, integer, uuid[])
  to authenticated, service_role;

-- pgvector's operators live in the extension's schema (`extensions` on Supabase, `public` on a
-- plain PostgreSQL): the vector search resolves `<=>` there and nowhere else.
do $$
declare
  home text := (select n.nspname from pg_extension e join pg_namespace n on n.oid = e.extnamespace
                where e.extname = 'vector');
  signature text := format('public.search_knowledge_vectors(uuid, %I.vector, integer)', home);
begin
  execute format('alter function %s set search_path = pg_catalog, %I', signature, home);
  execute format('revoke execute on function %s from public, anon', signature);
  execute format('grant execute on function %s to authenticated, service_role', signature);
end
$$;
