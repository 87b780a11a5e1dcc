-- The job queue's tables live in `public` (Procrastinate's default) but belong to the backend
-- alone: RLS on with no policy, and no privileges for the API roles.
do $$
declare
  t text;
begin
  for t in select tablename from pg_tables where schemaname = 'public' and tablename like 'procrastinate%'
  loop
    execute format('alter table public.%I enable row level security', t);
    execute format('revoke all on public.%I from anon, authenticated', t);
  end loop;
end
$$;
