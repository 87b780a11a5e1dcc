"""Every query on `public.connections`: one row per (workspace, provider, account)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from backend.db import Connection


async def get(
    conn: Connection, workspace_id: UUID, provider: str, account: str = ""
) -> dict[str, Any] | None:
    cur = await conn.execute(
        "select * from public.connections"
        " where workspace_id = %s and provider = %s and account = %s",
        (workspace_id, provider, account),
    )
    return await cur.fetchone()


async def save(
    conn: Connection,
    workspace_id: UUID,
    provider: str,
    *,
    account: str,
    secrets: dict[str, str],
    key_last4: str,
    settings: dict[str, Any],
    webhook_hash: str | None = None,
    webhook_secrets: dict[str, str] | None = None,
    webhook_settings: dict[str, Any] | None = None,
    renew_webhook: bool = False,
) -> dict[str, Any]:
    """Insert or replace the connection, valid as of now. `secrets` (ciphertexts) and
    `settings` are merged over the stored ones. The webhook credential (`webhook_*`) is written
    for a new connection, or when `renew_webhook`: a reconnect keeps the one the provider
    already has. The caller sees which by comparing `webhook_hash`."""
    cur = await conn.execute(
        """
        insert into public.connections as c
          (workspace_id, provider, account, secrets, key_last4, settings, webhook_hash,
           status, validated_at, last_error)
        values (%(ws)s, %(provider)s, %(account)s, %(secrets)s || %(webhook_secrets)s,
                %(key_last4)s, %(settings)s || %(webhook_settings)s, %(webhook_hash)s,
                'valid', now(), null)
        on conflict (workspace_id, provider, account) do update set
          secrets = c.secrets || %(secrets)s || case when %(renew)s or c.webhook_hash is null
            then %(webhook_secrets)s else '{}' end,
          settings = c.settings || %(settings)s || case when %(renew)s or c.webhook_hash is null
            then %(webhook_settings)s else '{}' end,
          webhook_hash = case when %(renew)s or c.webhook_hash is null
            then excluded.webhook_hash else c.webhook_hash end,
          key_last4 = excluded.key_last4, status = 'valid', validated_at = now(), last_error = null
        returning *
        """,
        {
            "ws": workspace_id,
            "provider": provider,
            "account": account,
            "secrets": Jsonb(secrets),
            "key_last4": key_last4,
            "settings": Jsonb(settings),
            "webhook_hash": webhook_hash,
            "webhook_secrets": Jsonb(webhook_secrets or {}),
            "webhook_settings": Jsonb(webhook_settings or {}),
            "renew": renew_webhook,
        },
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def set_secret(
    conn: Connection,
    workspace_id: UUID,
    provider: str,
    name: str,
    ciphertext: str,
    account: str = "",
) -> dict[str, Any] | None:
    cur = await conn.execute(
        "update public.connections set secrets = secrets || jsonb_build_object(%s::text, %s::text)"
        " where workspace_id = %s and provider = %s and account = %s returning *",
        (name, ciphertext, workspace_id, provider, account),
    )
    return await cur.fetchone()


async def record_check(
    conn: Connection,
    workspace_id: UUID,
    provider: str,
    *,
    valid: bool,
    error: str | None,
    settings: dict[str, Any] | None = None,
    account: str = "",
) -> dict[str, Any] | None:
    """What the provider said of the stored key just now (None: disconnected meanwhile)."""
    cur = await conn.execute(
        """
        update public.connections set
          status = case when %(valid)s then 'valid' else 'invalid' end,
          settings = settings || %(settings)s, last_error = left(%(error)s, 1000),
          validated_at = now()
        where workspace_id = %(ws)s and provider = %(provider)s and account = %(account)s
        returning *
        """,
        {
            "valid": valid,
            "settings": Jsonb(settings or {}),
            "error": error,
            "ws": workspace_id,
            "provider": provider,
            "account": account,
        },
    )
    return await cur.fetchone()


async def mark_invalid(
    conn: Connection, workspace_id: UUID, provider: str, error: str, account: str = ""
) -> None:
    await record_check(conn, workspace_id, provider, valid=False, error=error, account=account)


async def delete(conn: Connection, workspace_id: UUID, provider: str, account: str = "") -> bool:
    cur = await conn.execute(
        "delete from public.connections where workspace_id = %s and provider = %s and account = %s",
        (workspace_id, provider, account),
    )
    return cur.rowcount > 0


async def by_webhook_hash(
    conn: Connection, provider: str, webhook_hash: str
) -> dict[str, Any] | None:
    """The connection a webhook delivery's credential hashes to. Runs before the workspace is
    known (system transaction)."""
    cur = await conn.execute(
        "select * from public.connections where webhook_hash = %s and provider = %s",
        (webhook_hash, provider),
    )
    return await cur.fetchone()


async def valid_workspaces(conn: Connection, provider: str) -> list[UUID]:
    """Every workspace with a working connection to the provider (system transaction)."""
    cur = await conn.execute(
        "select distinct workspace_id from public.connections"
        " where provider = %s and status = 'valid' order by workspace_id",
        (provider,),
    )
    return [row["workspace_id"] for row in await cur.fetchall()]


async def secrets_after(conn: Connection, after: UUID | None, limit: int) -> list[dict[str, Any]]:
    """The next `limit` connections' secrets in id order, locked until the transaction ends
    (system transaction): a batch of the key rotation."""
    cur = await conn.execute(
        "select id, secrets from public.connections where %s::uuid is null or id > %s"
        " order by id limit %s for update",
        (after, after, limit),
    )
    return await cur.fetchall()


async def replace_secrets(conn: Connection, connection_id: UUID, secrets: dict[str, str]) -> None:
    await conn.execute(
        "update public.connections set secrets = %s where id = %s", (Jsonb(secrets), connection_id)
    )
