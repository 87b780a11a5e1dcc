-- A request's token counts only while its session lives: every tenant transaction looks its
-- `session_id` up in auth.sessions (signing out deletes the row). Supabase's own table has
-- `not_after` (a session's hard end); the local auth server's gets it too, so that one query
-- serves both. On Supabase the column is there already and auth.* is not ours to alter.
do $$
begin
  if not exists (
    select 1 from information_schema.columns
    where table_schema = 'auth' and table_name = 'sessions' and column_name = 'not_after'
  ) then
    alter table auth.sessions add column not_after timestamptz;
  end if;
end
$$;

-- Customers are told apart by `app_metadata.is_customer`, which only the service role writes
-- (the copy in user_metadata, which the portal's frontend reads, its user can edit). Users who
-- became customers before are marked from their customer records. Where the login role may
-- not write auth.users, the portal still works: new customers are marked when they are made.
do $$
begin
  update auth.users u
     set raw_app_meta_data = coalesce(u.raw_app_meta_data, '{}'::jsonb) || '{"is_customer": true}'
   where exists (select 1 from public.customers c where c.user_id = u.id)
     and coalesce(u.raw_app_meta_data ->> 'is_customer', '') <> 'true';
exception when insufficient_privilege then
  raise notice 'auth.users is not writable here: existing customers keep their old marks';
end
$$;
