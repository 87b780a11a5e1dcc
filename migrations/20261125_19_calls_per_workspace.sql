-- Calls belong to the workspace that stored them, and only the backend writes them; and how the
-- stats phone search reads its index.

-- 1. A provider's call id is unique within a workspace, not across all of them. Two workspaces
-- may be connected to the same provider account (one VAPI account, one Bolna account): with
-- `unique (provider, provider_call_id)` and `on conflict do nothing`, whichever stored an id
-- first owned it (the hourly VAPI import of one took the other's calls, whose own webhook then
-- stored nothing). Now each workspace keeps its own copy. Every writer upserts on these three
-- columns (backend/calls/repository.py, backend/confirmations/repository.py). The existing
-- rows are unique on two of the columns, hence on the three.
alter table public.calls drop constraint calls_provider_provider_call_id_key;
alter table public.calls add constraint calls_workspace_provider_call_key
  unique (workspace_id, provider, provider_call_id);

-- 2. Calls are what the providers reported, and `order_confirmation_calls` is the guard that an
-- order is called once. Both had the 'activity' policies, so any member (even the 'agent'
-- role) could insert, rewrite (status, transcript, recording) or delete them through Supabase,
-- and deleting an order's row let the order be called again. Members (and nobody else: there
-- is no customer policy on either table) keep reading them (`<table>_read`, unchanged); only
-- the backend's own transactions (`db.for_workspace`: webhooks, imports, confirm-order)
-- insert, update and delete. Foreign-key actions (a customer deleted, a workspace deleted) are
-- not subject to row policies and still apply.
do $$
declare
  t text;
  backend constant text := 'public.is_backend_principal(workspace_id)';
begin
  foreach t in array array['calls', 'order_confirmation_calls'] loop
    execute format('drop policy %I on public.%I', t || '_insert', t);
    execute format('drop policy %I on public.%I', t || '_update', t);
    execute format('drop policy %I on public.%I', t || '_delete', t);
    execute format('create policy %I on public.%I for insert with check (%s)',
                   t || '_insert', t, backend);
    execute format('create policy %I on public.%I for update using (%s) with check (%s)',
                   t || '_update', t, backend, backend);
    execute format('create policy %I on public.%I for delete using (%s)',
                   t || '_delete', t, backend);
  end loop;
end
$$;

-- 3. The stats search by phone (`GET /api/stats/conversations?search=`, backend/stats) now runs
-- on `conversations_phone_idx (workspace_id, phone text_pattern_ops)`; no new index. It read
-- `strpos(phone, $1) > 0`, which no btree can serve: every conversation of the workspace was
-- read and filtered. Two things decided the new form:
-- - The stats run under RLS, and a condition can only become an index condition there when
--   its operator is LEAKPROOF: `like` (textlike) is not, so even `phone like '9198765%'` is a
--   filter. `phone ^@ $1` (starts_with) is leakproof and is turned into the index's
--   `~>=~ / ~<~` range.
-- - pg_trgm (a GIN index that would keep "anywhere in the number") is one of Supabase's
--   extensions but is not in the embedded PostgreSQL (`pg_available_extensions`: plpgsql and
--   vector only), and both run these same migrations.
-- So a search matches the start of the stored number (international digits): the digits as
-- typed (`+91 98765` finds 919876543210), or read as a national number of the workspace's
-- country (its own phone's, else India's), trunk prefix dropped and country code put in front
-- (`98765 43210` and `098765` find it too). A piece from the middle or the end of a number
-- no longer matches.
-- Measured (EXPLAIN ANALYZE, and the mean of 100 runs, through psycopg under a workspace
-- principal's claims; 5 workspaces of 4,000 conversations, then one grown to 100,000): the old
-- search read every conversation of the workspace whatever it looked for, 84-233 buffers and
-- ~1 ms at 4,000, 2,233-3,312 buffers and 22-29 ms (a sequential scan for the count) at
-- 100,000; the new one reads the matching index range only (one or two index scans, bitmap-
-- ORed): 5-15 buffers and 0.3-0.8 ms at either size.
