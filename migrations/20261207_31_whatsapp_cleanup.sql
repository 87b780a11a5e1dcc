-- A WhatsApp number's credentials go with the number: whichever way its row is deleted (the
-- bot switched numbers, the chatbot was deleted through /bots or /api/chatbots and cascaded,
-- the workspace went), its connection row goes too, in the same statement. A rule in the
-- database rather than in each service: a cascade runs no service code.
create function public.whatsapp_number_deleted() returns trigger
language plpgsql security definer set search_path = '' as $$
begin
  -- Definer's rights: a cascade from chatbots must not depend on the caller's policies; the
  -- row deleted names exactly one connection of its own workspace.
  delete from public.connections
  where workspace_id = old.workspace_id and provider = 'whatsapp'
    and account = old.phone_number_id;
  return old;
end
$$;
revoke execute on function public.whatsapp_number_deleted() from public, anon, authenticated;

create trigger whatsapp_numbers_connection after delete on public.whatsapp_numbers
  for each row execute function public.whatsapp_number_deleted();
