-- Tenant policies that cost once per query instead of once per row. `has_workspace_access(ws)`
-- is a function call for every row a query reads (an aggregate over a workspace's million
-- messages makes a million calls); `workspace_id in (select accessible_workspaces())` is an
-- uncorrelated subquery, evaluated once and probed as a hash. The same rule: a workspace's
-- members, or a principal the backend bound to it.

create function public.accessible_workspaces() returns setof uuid
language sql stable security definer set search_path = '' as $$
  select (auth.jwt() ->> 'vx_workspace_id')::uuid
  where auth.jwt() ->> 'vx_workspace_id' is not null
  union all
  select m.workspace_id from public.workspace_members m where m.user_id = auth.uid()
$$;
revoke execute on function public.accessible_workspaces() from public, anon;
grant execute on function public.accessible_workspaces() to authenticated, service_role;

-- Every policy written in terms of has_workspace_access(workspace_id), rewritten.
do $$
declare
  p record;
  old_form constant text := 'has_workspace_access(workspace_id)';
  new_form constant text := '(workspace_id IN ( SELECT accessible_workspaces() AS accessible_workspaces))';
begin
  for p in
    select schemaname, tablename, policyname, qual, with_check from pg_policies
    where schemaname = 'public'
      and (qual like '%' || old_form || '%' or with_check like '%' || old_form || '%')
  loop
    if p.qual is not null then
      execute format('alter policy %I on %I.%I using (%s)', p.policyname, p.schemaname,
                     p.tablename, replace(p.qual, old_form, new_form));
    end if;
    if p.with_check is not null then
      execute format('alter policy %I on %I.%I with check (%s)', p.policyname, p.schemaname,
                     p.tablename, replace(p.with_check, old_form, new_form));
    end if;
  end loop;
end
$$;

-- And the tables to come.
create or replace function public.apply_tenant_policy(table_name text, kind text default 'activity')
returns void
language plpgsql as $$
declare
  member text := 'workspace_id in (select public.accessible_workspaces())';
  writer text := case kind
    when 'activity' then member
    when 'configuration' then
      '(public.is_workspace_admin(workspace_id) or public.is_backend_principal(workspace_id))'
    when 'ledger' then 'public.is_backend_principal(workspace_id)'
  end;
begin
  if writer is null then
    raise exception 'unknown policy kind %', kind;
  end if;
  execute format('alter table public.%I enable row level security', table_name);
  execute format('create policy %I on public.%I for select using (%s)',
                 table_name || '_read', table_name, member);
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
