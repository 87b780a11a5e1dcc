-- The people a workspace serves (customers), their optional portal login, and their support
-- tickets. A customer signs in with a Supabase Auth user marked `is_customer` and sees only their
-- own record, conversations and tickets: policies of their own, next to the members' ones.

create table public.customers (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  -- The portal login, when the customer has one.
  user_id uuid unique references auth.users (id) on delete set null,
  name text check (length(name) <= 200),
  email text check (email = lower(email) and length(email) <= 320),
  phone text check (phone ~ '^\+[1-9][0-9]{6,14}$'),  -- E.164
  company text check (length(company) <= 200),
  tags text[] not null default '{}',
  is_verified boolean not null default false,
  trust_score integer not null default 50 check (trust_score between 0 and 100),
  -- The chatbot the customer's portal offers (null: every active bot of the workspace).
  chatbot_id uuid,
  -- The customer's id in the workspace's own systems (the widget's verified user id).
  external_id text check (length(external_id) <= 200),
  created_by uuid references auth.users (id) on delete set null,
  last_interaction_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (id, workspace_id),
  foreign key (chatbot_id, workspace_id) references public.chatbots (id, workspace_id)
    on delete set null (chatbot_id)
);
create unique index customers_email_idx on public.customers (workspace_id, email)
  where email is not null;
create unique index customers_phone_idx on public.customers (workspace_id, phone)
  where phone is not null;
create unique index customers_external_idx on public.customers (workspace_id, external_id)
  where external_id is not null;
create index customers_recent_idx on public.customers (workspace_id, last_interaction_at desc nulls last, created_at desc);
create index customers_tags_idx on public.customers using gin (tags);
create trigger customers_updated_at before update on public.customers
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('customers');

-- The customer signed in to the portal: their own customer record. SECURITY DEFINER so that the
-- policies below can ask without the customers policies in the way (and without recursion).
create function public.my_customer_ids() returns setof uuid
language sql stable security definer set search_path = '' as $$
  select c.id from public.customers c where c.user_id = auth.uid()
$$;
revoke execute on function public.my_customer_ids() from public, anon;
grant execute on function public.my_customer_ids() to authenticated, service_role;

create policy customers_self_read on public.customers for select
  using (user_id = auth.uid());

alter table public.conversations
  add column customer_id uuid references public.customers (id) on delete set null;
create index conversations_customer_idx on public.conversations (customer_id, last_message_at desc)
  where customer_id is not null;
create policy conversations_customer_read on public.conversations for select
  using (customer_id in (select public.my_customer_ids()));
create policy messages_customer_read on public.messages for select
  using (conversation_id in (
    select c.id from public.conversations c where c.customer_id in (select public.my_customer_ids())
  ));

create table public.tickets (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null,
  customer_id uuid not null,
  conversation_id uuid references public.conversations (id) on delete set null,
  subject text not null check (length(subject) between 1 and 200),
  description text not null default '' check (length(description) <= 10000),
  priority text not null default 'medium' check (priority in ('low', 'medium', 'high', 'urgent')),
  status text not null default 'open' check (status in ('open', 'pending', 'resolved', 'closed')),
  created_by uuid references auth.users (id) on delete set null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  resolved_at timestamptz,
  closed_at timestamptz,
  foreign key (customer_id, workspace_id) references public.customers (id, workspace_id)
    on delete cascade
);
create index tickets_workspace_idx on public.tickets (workspace_id, status, created_at desc);
create index tickets_customer_idx on public.tickets (customer_id, created_at desc);
create trigger tickets_updated_at before update on public.tickets
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('tickets');
create policy tickets_customer_read on public.tickets for select
  using (customer_id in (select public.my_customer_ids()));
-- A customer opens tickets for themselves, and nothing else.
create policy tickets_customer_insert on public.tickets for insert
  with check (
    customer_id in (select public.my_customer_ids())
    and status = 'open'
    and created_by = auth.uid()
  );
