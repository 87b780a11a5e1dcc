"""Applies the schema: Supabase compatibility (plain Postgres only), the job queue, then
`migrations/*.sql` in name order. Each step runs once, in its own transaction, and is recorded
in `schema_migrations`; concurrent runs (web and worker starting together) wait for each other.
"""

from __future__ import annotations

from pathlib import Path

import structlog
from procrastinate.schema import SchemaManager
from psycopg import AsyncConnection

log = structlog.get_logger(__name__)

ROOT = Path(__file__).resolve().parent.parent
MIGRATIONS_DIR = ROOT / "migrations"
COMPAT_SQL = ROOT / "supabase" / "postgres_compat.sql"

COMPAT_STEP = "supabase/postgres_compat"
JOB_QUEUE_STEP = "procrastinate/schema"
_LOCK_ID = 72_616_935  # any constant shared by every `voxtro migrate`


async def migrate(url: str) -> list[str]:
    """Bring the database at `url` up to date; return the steps applied now."""
    applied_now: list[str] = []
    async with await AsyncConnection.connect(url, autocommit=True) as conn:
        await conn.execute("select pg_advisory_lock(%s)", (_LOCK_ID,))
        try:
            await conn.execute(
                "create table if not exists public.schema_migrations ("
                " version text primary key, applied_at timestamptz not null default now())"
            )
            # Not for tenants: RLS on, no policy.
            await conn.execute("alter table public.schema_migrations enable row level security")
            done = {
                r[0]
                for r in await (
                    await conn.execute("select version from public.schema_migrations")
                ).fetchall()
            }

            for version, sql in await _pending_steps(conn, done):
                async with conn.transaction():
                    if sql:
                        await conn.execute(sql.encode())
                    await conn.execute(
                        "insert into public.schema_migrations (version) values (%s)", (version,)
                    )
                applied_now.append(version)
                log.info("migration_applied", version=version, skipped=not sql)
        finally:
            await conn.execute("select pg_advisory_unlock(%s)", (_LOCK_ID,))
    return applied_now


async def _pending_steps(conn: AsyncConnection, done: set[str]) -> list[tuple[str, str]]:
    steps: list[tuple[str, str]] = []
    if COMPAT_STEP not in done:
        # On Supabase `auth.users` already exists and the compatibility layer must not touch it:
        # the step is recorded with nothing to run.
        row = await (await conn.execute("select to_regclass('auth.users') is not null")).fetchone()
        is_supabase = bool(row and row[0])
        steps.append((COMPAT_STEP, "" if is_supabase else COMPAT_SQL.read_text()))
    if JOB_QUEUE_STEP not in done:
        steps.append((JOB_QUEUE_STEP, SchemaManager.get_schema()))
    for path in sorted(MIGRATIONS_DIR.glob("*.sql")):
        if path.stem not in done:
            steps.append((path.stem, path.read_text()))
    return steps
