-- One sender's events applied in the order they came (backend/inbound): a provider may give an
-- event an `order_key` (WhatsApp: the number and the contact); the events sharing one are
-- applied one at a time, oldest first, by jobs that share a Procrastinate lock named after it.
-- Kept on the event so that a redelivery and the sweeper queue its job under the same lock.
alter table public.inbound_events
  add column order_key text check (length(order_key) between 1 and 255);
-- What a job reads before applying its event: the unprocessed events before it with its key.
create index inbound_events_order_idx on public.inbound_events (order_key, id)
  where processed_at is null and order_key is not null;
