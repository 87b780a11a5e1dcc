"""Migration 28 carries the five provider tables' rows into `public.connections`: a database
with rows in the old shape reads right once migrated, through the app."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator

import psycopg
import pytest
from procrastinate.schema import SchemaManager
from psycopg.types.json import Jsonb

from backend.connections.service import credential_hash
from backend.kit.crypto import SecretBox
from backend.migrate import COMPAT_SQL, COMPAT_STEP, JOB_QUEUE_STEP, MIGRATIONS_DIR, migrate
from tests.conftest import TEST_ENCRYPTION_KEY, app_with

CONNECTIONS = "20261207_28_connections"
DATABASE = "vx_connections_migration"


@pytest.fixture
async def before_28(database_url: str) -> AsyncIterator[str]:
    """A new database migrated up to (not including) migration 28."""
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(f"drop database if exists {DATABASE}")
        await conn.execute(f"create database {DATABASE}")
    url = database_url.replace("/postgres?", f"/{DATABASE}?")
    assert url != database_url
    steps = [(COMPAT_STEP, COMPAT_SQL.read_text()), (JOB_QUEUE_STEP, SchemaManager.get_schema())]
    steps += [
        (p.stem, p.read_text())
        for p in sorted(MIGRATIONS_DIR.glob("*.sql"))
        if p.stem < CONNECTIONS
    ]
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute(
            "create table public.schema_migrations"
            " (version text primary key, applied_at timestamptz not null default now())"
        )
        for version, sql in steps:
            async with conn.transaction():
                await conn.execute(sql.encode())
                await conn.execute(
                    "insert into public.schema_migrations (version) values (%s)", (version,)
                )
    yield url
    async with await psycopg.AsyncConnection.connect(database_url, autocommit=True) as conn:
        await conn.execute(f"drop database if exists {DATABASE} with (force)")


async def test_every_old_connection_reads_right_after_the_migration(before_28, anon_key):
    box = SecretBox(TEST_ENCRYPTION_KEY)
    vapi_secret, bolna_token, eleven_token = "vapi-secret-" + "v" * 30, "b" * 43, "e" * 32
    async with await psycopg.AsyncConnection.connect(before_28, autocommit=True) as conn:
        [(ws,)] = await (
            await conn.execute(
                "insert into public.workspaces (name, slug) values ('Old', 'old-shop') returning id"
            )
        ).fetchall()
        await conn.execute(
            "insert into public.openai_connections (workspace_id, encrypted_api_key, key_last4,"
            " status, models, last_error) values (%s, %s, 'OAI1', 'invalid', %s, 'refused')",
            (ws, box.encrypt("sk-old-OAI1"), ["gpt-4o-mini", "gpt-4o"]),
        )
        await conn.execute(
            "insert into public.commerce_connections (workspace_id, base_url, encrypted_api_key,"
            " key_last4) values (%s, 'https://shop.example.com/api', %s, 'SHP1')",
            (ws, box.encrypt("shop-key-SHP1")),
        )
        await conn.execute(
            "insert into public.voice_connections (workspace_id, encrypted_private_key,"
            " encrypted_public_key, private_key_last4, public_key_last4, encrypted_webhook_secret,"
            " webhook_secret_hash, validated_at) values (%s, %s, %s, 'PRV1', 'PUB1', %s, %s, now())",
            (
                ws,
                box.encrypt("private-PRV1"),
                box.encrypt("public-PUB1"),
                box.encrypt(vapi_secret),
                credential_hash(vapi_secret),
            ),
        )
        await conn.execute(
            "insert into public.elevenlabs_connections (workspace_id, encrypted_api_key,"
            " api_key_last4, subscription, subscription_tier, webhook_token)"
            " values (%s, %s, 'XI01', %s, 'creator', %s)",
            (ws, box.encrypt("sk_XI01"), Jsonb({"tier": "creator"}), eleven_token),
        )
        await conn.execute(
            "insert into public.bolna_connections (workspace_id, encrypted_api_key, api_key_last4,"
            " agent_id, agent_name, from_phone_number, default_country, webhook_token_hash,"
            " encrypted_webhook_token) values (%s, %s, 'BN01', 'agent-1', 'Confirmations',"
            " '+918035737600', 'IN', %s, %s)",
            (ws, box.encrypt("bn-BN01"), credential_hash(bolna_token), box.encrypt(bolna_token)),
        )

    assert CONNECTIONS in await migrate(before_28)

    async with await psycopg.AsyncConnection.connect(before_28, autocommit=True) as conn:
        rows = await (
            await conn.execute(
                "select provider, secrets, key_last4, status, settings, webhook_hash, last_error"
                " from public.connections where workspace_id = %s order by provider",
                (ws,),
            )
        ).fetchall()
        [(old_tables,)] = await (
            await conn.execute(
                "select count(*) from pg_tables where tablename in ('openai_connections',"
                " 'commerce_connections', 'voice_connections', 'elevenlabs_connections',"
                " 'bolna_connections')"
            )
        ).fetchall()
    assert old_tables == 0
    found = {r[0]: r for r in rows}
    assert sorted(found) == ["bolna", "commerce", "elevenlabs", "openai", "vapi"]

    def plain(provider: str) -> dict[str, str]:
        return {name: box.decrypt(value) for name, value in found[provider][1].items()}

    assert plain("openai") == {"api_key": "sk-old-OAI1"}
    assert found["openai"][2:5] == ("OAI1", "invalid", {"models": ["gpt-4o-mini", "gpt-4o"]})
    assert found["openai"][6] == "refused"
    assert plain("commerce") == {"api_key": "shop-key-SHP1"}
    assert found["commerce"][4] == {"base_url": "https://shop.example.com/api"}
    assert plain("vapi") == {
        "private_key": "private-PRV1",
        "public_key": "public-PUB1",
        "webhook_secret": vapi_secret,
    }
    assert found["vapi"][4] == {"public_key_last4": "PUB1"}
    assert found["vapi"][5] == credential_hash(vapi_secret)
    assert plain("elevenlabs") == {"api_key": "sk_XI01"}  # no webhook secret set yet
    assert found["elevenlabs"][4]["webhook_token"] == eleven_token
    assert found["elevenlabs"][5] == hashlib.sha256(eleven_token.encode()).hexdigest()
    assert plain("bolna") == {"api_key": "bn-BN01", "webhook_token": bolna_token}
    assert found["bolna"][4] == {
        "agent_id": "agent-1",
        "agent_name": "Confirmations",
        "from_phone_number": "+918035737600",
        "default_country": "IN",
    }

    # And the documented answers read them as before.
    async with app_with(before_28) as (client, context):
        admin = await _owner(client, context, anon_key, ws)
        openai = (await client.get("/api/openai/status", headers=admin)).json()
        assert (openai["status"], openai["key_last4"], openai["models"]) == (
            "invalid",
            "OAI1",
            ["gpt-4o-mini", "gpt-4o"],
        )
        commerce = (await client.get("/api/connections/commerce", headers=admin)).json()
        assert (commerce["base_url"], commerce["key_last4"]) == (
            "https://shop.example.com/api",
            "SHP1",
        )
        voice = (await client.get("/api/voice/connect", headers=admin)).json()
        assert (voice["private_key_last4"], voice["public_key_last4"]) == ("PRV1", "PUB1")
        assert (await client.get("/api/voice/token", headers=admin)).json() == {
            "token": "public-PUB1"
        }
        eleven = (await client.get("/api/whatsapp/connection", headers=admin)).json()
        assert eleven["webhook_url"].endswith(f"/api/webhooks/elevenlabs/{eleven_token}")
        assert (eleven["subscription_tier"], eleven["webhook_secret_set"]) == ("creator", False)
        bolna = (await client.get("/api/bolna/connection", headers=admin)).json()
        assert (bolna["api_key_last4"], bolna["agent_name"]) == ("BN01", "Confirmations")
        # Deliveries still find their workspace by the old credentials.
        ack = await client.post(
            "/api/webhooks/vapi", headers={"X-Vapi-Secret": vapi_secret}, json={"message": {}}
        )
        assert ack.status_code != 401, ack.text
        bolna_ack = await client.post(f"/api/webhooks/bolna/{bolna_token}", json={})
        assert bolna_ack.status_code != 401, bolna_ack.text
        wrong = await client.post(f"/api/webhooks/bolna/{'c' * 43}", json={})
        assert wrong.status_code == 401


async def _owner(client, context, anon_key: str, workspace_id) -> dict[str, str]:
    from tests.fixtures.factories import create_admin

    admin = await create_admin(client, anon_key, "owner-of-old")
    async with context.db.system() as conn:
        await conn.execute(
            "insert into public.workspace_members (workspace_id, user_id, role)"
            " values (%s, %s, 'owner')",
            (workspace_id, admin.user_id),
        )
    return {**admin.headers, "X-Workspace-Id": str(workspace_id)}
