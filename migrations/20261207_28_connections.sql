-- One table for every tenant credential (OpenAI, the commerce API, VAPI, ElevenLabs, Bolna, and
-- next WhatsApp numbers and WATI), in place of one table per provider. A provider adds a
-- validator in backend/connections/validators.py, not a table.

create table public.connections (
  id uuid primary key default gen_random_uuid(),
  workspace_id uuid not null references public.workspaces (id) on delete cascade,
  -- Not a fixed list: a new provider needs no migration.
  provider text not null check (provider ~ '^[a-z][a-z0-9_]{1,39}$'),
  -- Which of the provider's accounts or numbers this is, for providers a workspace may connect
  -- several times (a WhatsApp phone number id); '' when there is one per workspace.
  account text not null default '' check (length(account) <= 200),
  -- Name -> Fernet ciphertext (backend/kit/crypto.py): the key and every other secret of the
  -- connection (a second key, a webhook secret or token). Never returned to anyone.
  secrets jsonb not null default '{}' check (jsonb_typeof(secrets) = 'object'),
  key_last4 text not null check (length(key_last4) <= 4),  -- of the main key: all that is shown
  status text not null default 'valid' check (status in ('valid', 'invalid')),
  -- What may be shown: the provider's answers (models, subscription, agent name) and the
  -- admin's choices (base URL, caller id, country).
  settings jsonb not null default '{}' check (jsonb_typeof(settings) = 'object'),
  -- Hex SHA-256 of the credential a provider's webhook delivery presents (a header secret, or
  -- the token in its URL): how a delivery finds its connection before the workspace is known,
  -- without decrypting every connection's secret.
  webhook_hash text unique check (webhook_hash ~ '^[0-9a-f]{64}$'),
  validated_at timestamptz,  -- when the provider last accepted or refused the key
  last_error text check (length(last_error) <= 1000),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (workspace_id, provider, account)
);
create trigger connections_updated_at before update on public.connections
  for each row execute function public.set_updated_at();
select public.apply_tenant_policy('connections', 'configuration');

-- Today's rows, as they are: same ciphertexts, same status and times.
insert into public.connections
  (workspace_id, provider, secrets, key_last4, status, settings, validated_at, last_error,
   created_at, updated_at)
select workspace_id, 'openai', jsonb_build_object('api_key', encrypted_api_key), key_last4,
       status, jsonb_build_object('models', to_jsonb(models)), validated_at, left(last_error, 1000),
       created_at, updated_at
from public.openai_connections;

-- The commerce API had no status: its URL was checked when it was saved.
insert into public.connections
  (workspace_id, provider, secrets, key_last4, settings, validated_at, created_at, updated_at)
select workspace_id, 'commerce', jsonb_build_object('api_key', encrypted_api_key), key_last4,
       jsonb_build_object('base_url', base_url), updated_at, created_at, updated_at
from public.commerce_connections;

insert into public.connections
  (workspace_id, provider, secrets, key_last4, status, settings, webhook_hash, validated_at,
   last_error, created_at, updated_at)
select workspace_id, 'vapi',
       jsonb_build_object('private_key', encrypted_private_key,
                          'public_key', encrypted_public_key,
                          'webhook_secret', encrypted_webhook_secret),
       private_key_last4, status, jsonb_build_object('public_key_last4', public_key_last4),
       webhook_secret_hash, validated_at, left(last_error, 1000), created_at, updated_at
from public.voice_connections;

-- The webhook URL's token is not a credential (the signature is): it stays readable in the
-- settings, and its hash finds the connection like the other providers' credentials.
insert into public.connections
  (workspace_id, provider, secrets, key_last4, status, settings, webhook_hash, validated_at,
   last_error, created_at, updated_at)
select workspace_id, 'elevenlabs',
       jsonb_strip_nulls(jsonb_build_object('api_key', encrypted_api_key,
                                            'webhook_secret', encrypted_webhook_secret)),
       api_key_last4, status,
       jsonb_build_object('subscription', subscription, 'subscription_tier', subscription_tier,
                          'webhook_token', webhook_token),
       encode(sha256(convert_to(webhook_token, 'UTF8')), 'hex'),
       validated_at, left(last_error, 1000), created_at, updated_at
from public.elevenlabs_connections;

insert into public.connections
  (workspace_id, provider, secrets, key_last4, status, settings, webhook_hash, validated_at,
   last_error, created_at, updated_at)
select workspace_id, 'bolna',
       jsonb_build_object('api_key', encrypted_api_key, 'webhook_token', encrypted_webhook_token),
       api_key_last4, status,
       jsonb_build_object('agent_id', agent_id, 'agent_name', agent_name,
                          'from_phone_number', from_phone_number,
                          'default_country', default_country),
       webhook_token_hash, validated_at, last_error, created_at, updated_at
from public.bolna_connections;

-- Nothing reads the old tables any more (no views: every reader moved to the connections
-- service, and a view would be a second way to the secrets).
drop table public.openai_connections;
drop table public.commerce_connections;
drop table public.voice_connections;
drop table public.elevenlabs_connections;
drop table public.bolna_connections;
