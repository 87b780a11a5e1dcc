-- Answers without a model key. A bot now answers a greeting or a thank-you itself
-- ('small_talk'), and ranks knowledge passages by how much of the question they hold, each word
-- weighed by how rare it is in the bot's own knowledge (a product name counts more than
-- "delivery"). Both functions run as the table's owner after checking, once, that the caller
-- may read the bot (as search_knowledge_text does, for the same reason: full-text operators
-- under row-level security skip the index).

alter table public.messages drop constraint messages_source_check;
alter table public.messages add constraint messages_source_check
  check (source in ('model', 'cache', 'faq', 'knowledge', 'fallback', 'small_talk'));

-- How many of the bot's chunks hold each query, and how many chunks it has, each counted up to
-- `p_cap` (past that a word is common in the bot, whatever its exact count): element 1 is the
-- chunks, then one count per query.
create function public.knowledge_term_counts(
  p_chatbot uuid, p_config regconfig, p_queries text[], p_cap integer
) returns integer[]
language plpgsql stable security definer set search_path = '' as $$
declare
  ws uuid := public.readable_chatbot_workspace(p_chatbot);
  counts integer[];
  n integer;
  q text;
begin
  if ws is null then
    return null;
  end if;
  select count(*) into n from (
    select 1 from public.knowledge_chunks c
    where c.chatbot_id = p_chatbot and c.workspace_id = ws limit p_cap) capped;
  counts := array[n];
  foreach q in array p_queries loop
    execute $q$
      select count(*) from (
        select 1 from public.knowledge_chunks c
        where c.chatbot_id = $1 and c.workspace_id = $2 and c.search @@ $3 limit $4) capped
    $q$ into n using p_chatbot, ws, to_tsquery(p_config, q) || to_tsquery('simple', q), p_cap;
    counts := counts || n;
  end loop;
  return counts;
end
$$;

-- Which of `p_queries` each of the chunks `p_ids` holds, in its text and in its title or
-- heading. (Queries are plain words joined by `|` and `&`, stemmed in `p_config` or taken as
-- written, as the search itself takes them.)
create function public.knowledge_term_matches(
  p_chatbot uuid, p_ids uuid[], p_config regconfig, p_queries text[]
) returns table (id uuid, in_text boolean[], in_title boolean[])
language plpgsql stable security definer set search_path = '' as $$
declare
  ws uuid := public.readable_chatbot_workspace(p_chatbot);
begin
  if ws is null then
    return;
  end if;
  return query
    with queries as (
      select u.i, to_tsquery(p_config, u.q) || to_tsquery('simple', u.q) as q
      from unnest(p_queries) with ordinality u(q, i)
    )
    select c.id,
           array(select c.search @@ w.q from queries w order by w.i),
           array(select to_tsvector(c.ts_config, c.title || ' ' || coalesce(c.heading, ''))
                          || to_tsvector('simple', c.title || ' ' || coalesce(c.heading, '')) @@ w.q
                 from queries w order by w.i)
    from public.knowledge_chunks c
    where c.chatbot_id = p_chatbot and c.workspace_id = ws and c.id = any(p_ids);
end
$$;

revoke execute on function public.knowledge_term_counts(uuid, regconfig, text[], integer) from public, anon;
revoke execute on function public.knowledge_term_matches(uuid, uuid[], regconfig, text[]) from public, anon;
grant execute on function public.knowledge_term_counts(uuid, regconfig, text[], integer)
  to authenticated, service_role;
grant execute on function public.knowledge_term_matches(uuid, uuid[], regconfig, text[])
  to authenticated, service_role;
