-- Workspaces (the tenants), their members, and the API keys they issue.

create or replace function public.set_updated_at() returns trigger
language plpgsql as $$
begin
  new.updated_at = now();
  return new;
end
$$;

create table public.workspaces (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  -- The workspace's name in URLs and header names (`/webhooks/{slug}/…`, `X-{SLUG}-Secret`).
  slug text not null unique check (slug ~ '^[a-z0-9][a-z0-9-]{0,62}$'),
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create trigger workspaces_updated_at before update on public.workspaces
  for each row execute function public.set_updated_at();

create table public.workspace_members (
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  user_id uuid not null references auth.users (id) on delete cascade,
  role text not null check (role in ('owner', 'admin', 'agent')),
  created_at timestamptz not null default now(),
  primary key (workspace_id, user_id)
);
create index workspace_members_user_id_idx on public.workspace_members (user_id);

create table public.api_keys (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  name text not null check (length(name) between 1 and 100),
  -- The first characters of the key, shown in lists so an admin can tell keys apart.
  prefix text not null,
  key_hash text not null unique,
  scopes text[] not null,
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);
create index api_keys_workspace_id_idx on public.api_keys (workspace_id);

-- Tenancy. A caller reaches a workspace as one of its members (a Supabase user, `auth.uid()`),
-- or as a principal the backend bound to that one workspace (`vx_workspace_id`: an API key, a
-- job, a public widget call). SECURITY DEFINER so the membership lookup is not itself filtered.
create function public.has_workspace_access(ws uuid) returns boolean
language sql stable security definer set search_path = '' as $$
  select coalesce((auth.jwt() ->> 'vx_workspace_id')::uuid = ws, false)
      or exists (
        select 1 from public.workspace_members m
        where m.workspace_id = ws and m.user_id = auth.uid()
      )
$$;

create function public.workspace_role(ws uuid) returns text
language sql stable security definer set search_path = '' as $$
  select m.role from public.workspace_members m
  where m.workspace_id = ws and m.user_id = auth.uid()
$$;

create function public.is_workspace_admin(ws uuid) returns boolean
language sql stable security definer set search_path = '' as $$
  select coalesce(public.workspace_role(ws) in ('owner', 'admin'), false)
$$;

-- Creating a workspace makes its creator the owner in one step, for the backend and for a
-- console that talks to Supabase directly.
create function public.create_workspace(p_name text, p_slug text) returns uuid
language plpgsql security definer set search_path = '' as $$
declare
  new_id uuid;
begin
  if auth.uid() is null then
    raise exception 'a signed-in user is required' using errcode = '42501';
  end if;
  insert into public.workspaces (name, slug, created_by)
  values (p_name, p_slug, auth.uid())
  returning id into new_id;
  insert into public.workspace_members (workspace_id, user_id, role)
  values (new_id, auth.uid(), 'owner');
  return new_id;
end
$$;
revoke execute on function public.create_workspace(text, text) from public, anon;

alter table public.workspaces enable row level security;
create policy workspaces_select on public.workspaces for select
  using (public.has_workspace_access(id));
create policy workspaces_update on public.workspaces for update
  using (public.is_workspace_admin(id)) with check (public.is_workspace_admin(id));
create policy workspaces_delete on public.workspaces for delete
  using (public.workspace_role(id) = 'owner');

alter table public.workspace_members enable row level security;
create policy workspace_members_select on public.workspace_members for select
  using (public.has_workspace_access(workspace_id));
-- Admins manage members, but only owners grant, change or take away the owner role (the old
-- row is checked by `using`, the new one by `with check`).
create policy workspace_members_insert on public.workspace_members for insert
  with check (public.is_workspace_admin(workspace_id)
              and (role <> 'owner' or public.workspace_role(workspace_id) = 'owner'));
create policy workspace_members_update on public.workspace_members for update
  using (public.is_workspace_admin(workspace_id)
         and (role <> 'owner' or public.workspace_role(workspace_id) = 'owner'))
  with check (public.is_workspace_admin(workspace_id)
              and (role <> 'owner' or public.workspace_role(workspace_id) = 'owner'));
-- Any member may leave; admins remove others (owners only by owners).
create policy workspace_members_delete on public.workspace_members for delete
  using (user_id = auth.uid()
         or (public.is_workspace_admin(workspace_id)
             and (role <> 'owner' or public.workspace_role(workspace_id) = 'owner')));

-- A workspace always keeps an owner, whoever writes (the API checks first; this is the net).
create function public.keep_an_owner() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  if old.role = 'owner' and (tg_op = 'DELETE' or new.role <> 'owner')
     -- (deleting the workspace, or the user's account, cascades here: let those through)
     and exists (select 1 from public.workspaces w where w.id = old.workspace_id)
     and exists (select 1 from auth.users u where u.id = old.user_id)
     and not exists (select 1 from public.workspace_members m
                     where m.workspace_id = old.workspace_id and m.role = 'owner'
                       and m.user_id <> old.user_id) then
    raise exception 'a workspace needs at least one owner' using errcode = '23514';
  end if;
  return coalesce(new, old);
end
$$;
create trigger workspace_members_keep_an_owner before update or delete on public.workspace_members
  for each row execute function public.keep_an_owner();

-- Only a workspace's owners and admins see or manage its keys.
alter table public.api_keys enable row level security;
create policy api_keys_admin on public.api_keys for all
  using (public.is_workspace_admin(workspace_id))
  with check (public.is_workspace_admin(workspace_id));

-- Member lists and invitations need e-mails from auth.users, which the API roles cannot read:
-- these functions expose exactly that, to the workspace's own members and admins.
create function public.workspace_member_list(ws uuid)
returns table (user_id uuid, email text, role text, created_at timestamptz)
language sql stable security definer set search_path = '' as $$
  select m.user_id, u.email::text, m.role, m.created_at
  from public.workspace_members m join auth.users u on u.id = m.user_id
  where m.workspace_id = ws and public.has_workspace_access(ws)
  order by m.created_at
$$;

create function public.add_workspace_member(ws uuid, member_email text, member_role text)
returns uuid
language plpgsql security definer set search_path = '' as $$
declare
  member_id uuid;
begin
  if not public.is_workspace_admin(ws)
     or (member_role = 'owner' and public.workspace_role(ws) is distinct from 'owner') then
    raise exception 'only owners add owners, and owners and admins add members'
      using errcode = '42501';
  end if;
  select id into member_id from auth.users where lower(email) = lower(member_email);
  if member_id is null then
    return null;
  end if;
  insert into public.workspace_members (workspace_id, user_id, role)
  values (ws, member_id, member_role);
  return member_id;
end
$$;
revoke execute on function public.add_workspace_member(uuid, text, text) from public, anon;

create function public.workspace_slug_taken(candidate text) returns boolean
language sql stable security definer set search_path = '' as $$
  select exists (select 1 from public.workspaces where slug = candidate)
$$;
