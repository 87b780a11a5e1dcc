"""PostgreSQL access: one connection pool, and transactions that run under RLS.

Every tenant request runs its transaction as the `authenticated` role with the caller's JWT
claims set, exactly as Supabase's PostgREST does, so the RLS policies hide other workspaces'
rows even from a query that forgets its filter. Work that is not a tenant request (looking up
an API key, the local auth server, migrations) uses `system()`, as the login role.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterable, Mapping
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID

from psycopg import AsyncConnection, pq, sql
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from backend.errors import Unauthorized

Connection = AsyncConnection[DictRow]

# Whether a token's session still exists: signing out deletes its row (Supabase Auth and the
# local auth server alike), and Supabase sessions may also carry a hard end (`not_after`).
_SESSION_LIVE = (
    "exists (select 1 from auth.sessions where id = %(session_id)s"
    " and (not_after is null or not_after > now()))"
)


def workspace_claims(workspace_id: UUID, principal: str) -> dict[str, Any]:
    """Claims for a principal bound to one workspace (an API key, a job, a public widget call).

    `vx_workspace_id` is a claim no Supabase-issued token carries, so only the backend can
    grant it; the policies accept it as membership of exactly that workspace.
    """
    return {
        "role": "authenticated",
        "vx_workspace_id": str(workspace_id),
        "vx_principal": principal,
    }


async def _configure(conn: Connection) -> None:
    # Timestamps leave the database in UTC, whatever the server's default: the API writes them
    # with a Z.
    await conn.execute("set timezone to 'UTC'")
    await conn.commit()


class SessionEnded(Unauthorized):
    def __init__(self) -> None:
        super().__init__("Your session has ended: sign in again")


def session_of(claims: Mapping[str, Any]) -> UUID | None:
    """The auth session a user token belongs to (None for tokens that belong to none: API
    keys, jobs, and tokens minted without one)."""
    value = claims.get("session_id")
    if not value:
        return None
    try:
        return UUID(str(value))
    except ValueError:
        raise SessionEnded() from None


class LiveSessions:
    """The sessions this process saw alive in the last `ttl` seconds: a busy session is looked
    up once per `ttl`, not on every request. A session ended elsewhere (another web process,
    Supabase) is refused here within `ttl`; one ended through this process, at once."""

    _MAX_ENTRIES = 100_000

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._seen: dict[UUID, float] = {}

    def fresh(self, session_id: UUID) -> bool:
        seen = self._seen.get(session_id)
        return seen is not None and time.monotonic() - seen < self.ttl

    def saw(self, session_id: UUID) -> None:
        if len(self._seen) >= self._MAX_ENTRIES:
            cutoff = time.monotonic() - self.ttl
            self._seen = {k: v for k, v in self._seen.items() if v > cutoff}
        self._seen[session_id] = time.monotonic()

    def ended(self, session_id: UUID) -> None:
        self._seen.pop(session_id, None)


class Database:
    def __init__(
        self, url: str, *, min_size: int = 2, max_size: int = 20, session_ttl: float = 5.0
    ) -> None:
        self.url = url
        self.sessions = LiveSessions(session_ttl)
        self.pool: AsyncConnectionPool[Connection] = AsyncConnectionPool(
            url,
            min_size=min_size,
            max_size=max_size,
            open=False,
            kwargs={"row_factory": dict_row},
            configure=_configure,
            name="voxtro",
        )

    async def open(self) -> None:
        await self.pool.open(wait=True, timeout=30)

    async def close(self) -> None:
        await self.pool.close()

    @asynccontextmanager
    async def system(self) -> AsyncIterator[Connection]:
        """A transaction as the login role (bypasses RLS): only for non-tenant work."""
        async with self.pool.connection() as conn, conn.transaction():
            yield conn

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[Connection]:
        """A connection as the login role on which each statement commits on its own (no
        BEGIN and COMMIT round trips); `conn.transaction()` still groups statements. For
        statements that cannot run in a transaction, and for a hot path whose statements are
        each whole on their own."""
        async with self.pool.connection() as conn:
            await conn.set_autocommit(True)
            try:
                yield conn
            finally:
                # A connection left busy or broken (a cancelled statement, a lost server) is
                # thrown away by the pool: setting the flag on it would only hide the error.
                if conn.info.transaction_status == pq.TransactionStatus.IDLE:
                    await conn.set_autocommit(False)

    @asynccontextmanager
    async def as_claims(self, claims: Mapping[str, Any]) -> AsyncIterator[Connection]:
        """A transaction under RLS as the `authenticated` role with these JWT claims; for a
        user token, only while its session lives (`SessionEnded` otherwise)."""
        session_id = session_of(claims)
        # Looked up in the statement that sets the claims (no round trip of its own), and only
        # when this process has not seen the session alive within the last `sessions.ttl`.
        check = (
            session_id if session_id is not None and not self.sessions.fresh(session_id) else None
        )
        async with self.pool.connection() as conn, conn.transaction():
            live = await set_claims(conn, claims, session_id=check)
            if check is not None:
                if not live:
                    self.sessions.ended(check)
                    raise SessionEnded()
                self.sessions.saw(check)
            yield conn

    async def require_live_session(self, claims: Mapping[str, Any]) -> None:
        """Refuse a user token whose session has ended (signed out, or past its hard end),
        as seen at most `sessions.ttl` seconds ago."""
        session_id = session_of(claims)
        if session_id is None or self.sessions.fresh(session_id):
            return
        async with self.pool.connection() as conn:
            cur = await conn.execute(f"select {_SESSION_LIVE} as live", {"session_id": session_id})
            row = await cur.fetchone()
        if not (row and row["live"]):
            self.sessions.ended(session_id)
            raise SessionEnded()
        self.sessions.saw(session_id)

    @asynccontextmanager
    async def for_workspace(self, workspace_id: UUID, principal: str) -> AsyncIterator[Connection]:
        async with self.as_claims(workspace_claims(workspace_id, principal)) as conn:
            yield conn


@asynccontextmanager
async def as_login_role(conn: Connection) -> AsyncIterator[Connection]:
    """Step out of RLS for a few statements inside a tenant transaction, for tables that no
    tenant may write directly (the job queue, billing counters), so they still commit or roll
    back with the tenant's data. Callers name the workspace explicitly in those statements."""
    # One round trip: leave the role, and learn from the claims whether we were a tenant.
    cur = await conn.execute(
        "select set_config('role', 'none', true),"
        " coalesce(current_setting('request.jwt.claims', true), '') <> '' as tenant"
    )
    row = await cur.fetchone()
    try:
        yield conn
    finally:
        # A failed transaction only rolls back (which ends the role switch anyway); a statement
        # now would hide the error that failed it.
        failed = conn.info.transaction_status == pq.TransactionStatus.INERROR
        if row and row["tenant"] and not failed:
            await conn.execute("select set_config('role', 'authenticated', true)")


async def set_claims(
    conn: Connection, claims: Mapping[str, Any], *, session_id: UUID | None = None
) -> bool:
    """Run the transaction under these claims; with a `session_id`, the same statement says
    whether that session still lives (without one: True)."""
    # Both settings are transaction-local: the pooled connection is back to the login role
    # (and no claims) as soon as the transaction ends. Privileges are checked as the statement
    # starts, so the session lookup still runs as the login role, which may read auth.sessions.
    live = _SESSION_LIVE if session_id is not None else "true"
    cur = await conn.execute(
        f"select {live} as live, set_config('role', 'authenticated', true),"
        " set_config('request.jwt.claims', %(claims)s, true)",
        {"claims": json.dumps(dict(claims), default=str), "session_id": session_id},
    )
    row = await cur.fetchone()
    return bool(row and row["live"])


def insert_sql(table: str, columns: Iterable[str], *, returning: str | None = None) -> sql.Composed:
    """`insert into public.<table> (<columns>) values (%(<column>)s, …)`, with the names quoted,
    for repositories that insert rows given as dicts."""
    names = list(columns)
    query = sql.SQL("insert into {} ({}) values ({})").format(
        sql.Identifier("public", table),
        sql.SQL(", ").join(map(sql.Identifier, names)),
        sql.SQL(", ").join(map(sql.Placeholder, names)),
    )
    return query + sql.SQL(f" returning {returning}") if returning else query


def set_sql(columns: Iterable[str]) -> sql.Composed:
    """`<column> = %(<column>)s, …` for an update from a dict of changes."""
    return sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(name), sql.Placeholder(name)) for name in columns
    )
