-- What messages need once channels with a provider (WhatsApp next) deliver them: who wrote one,
-- which way it went, on which channel, the provider's id for it, and how far its delivery got.
--
-- `role` stays the column that says who wrote a message (its author): `user` (the person the
-- conversation is with), `assistant` (the bot), `agent` (a human member of the workspace) and
-- `system`. Every reader of `role` keeps working; today's rows are all `user` or `assistant`.
alter table public.messages drop constraint messages_role_check;
alter table public.messages add constraint messages_role_check
  check (role in ('user', 'assistant', 'agent', 'system'));

alter table public.messages
  -- The member who wrote an agent's message.
  add column agent_id uuid,
  -- What the person sent is inbound; whatever the workspace says (bot, agent, system) outbound.
  -- Derived, so no writer can get it wrong and old rows read right.
  add column direction text generated always as
    (case when role = 'user' then 'inbound' else 'outbound' end) stored,
  -- The channel the message came or went by (a widget conversation may go on from the portal).
  -- Today's rows take their conversation's, below; the repository writes it with every message.
  add column channel text not null default 'widget'
    check (channel in ('widget', 'api', 'whatsapp', 'portal', 'voice')),
  -- The provider's id for the message: a provider delivering the same message twice is stored
  -- once (see the unique index below).
  add column provider_message_id text check (length(provider_message_id) <= 200),
  -- How far delivery got. Messages of the web channels are shown as they are stored: delivered.
  -- It only moves forward (conversations/repository.py `advance_status`).
  add column status text not null default 'delivered'
    check (status in ('queued', 'sent', 'delivered', 'read', 'failed')),
  add column status_changed_at timestamptz,
  -- What the provider said when a delivery failed.
  add column error_code text check (length(error_code) <= 100),
  add column error_message text check (length(error_message) <= 2000),
  add constraint messages_agent_check check (agent_id is null or role = 'agent');

update public.messages m set channel = c.channel
from public.conversations c
where c.id = m.conversation_id and c.channel <> 'widget';

create unique index messages_provider_id_idx
  on public.messages (workspace_id, channel, provider_message_id)
  where provider_message_id is not null;

-- How a conversation was closed (`POST /api/conversations/{id}/close`).
alter table public.conversations add constraint conversations_close_reason_check
  check (close_reason in ('resolved', 'spam', 'duplicate', 'no_response', 'other'));
