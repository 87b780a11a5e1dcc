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
