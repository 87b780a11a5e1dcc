"""`voxtro`: start the product, run the worker, migrate, create users, grant credits, rotate
the encryption key."""

from __future__ import annotations

import asyncio
import os
import uuid
from decimal import Decimal, InvalidOperation
from typing import Annotated, NoReturn

import typer
import uvicorn

from backend.config import Settings, get_settings
from backend.errors import VoxtroError
from backend.kit.crypto import SecretBoxError
from backend.logging import configure_logging

app = typer.Typer(help="Voxtro: AI customer conversations.", no_args_is_help=True)
credits_app = typer.Typer(
    help="A workspace's credits (with or without Stripe).", no_args_is_help=True
)
app.add_typer(credits_app, name="credits")


def _fail(message: str) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(1)


def _bootstrap(*, existing: bool = False, tables: bool = False) -> tuple[Settings, dict[str, str]]:
    """Settings for this run. Outside production, whatever the environment leaves out is filled
    in for a local run: the embedded PostgreSQL (without DATABASE_URL) and generated secrets.

    `existing`: the command works on a database made before (`voxtro dev` or `migrate`). Without
    one, it says what to do and stops before creating anything (no empty database, no secrets
    in a mistyped folder). `tables`: a one-off command, which first checks that the database was
    migrated (long-running processes leave that to `/readyz` and their own retries)."""
    settings = get_settings()
    found: dict[str, str] = {}
    if existing and settings.embedded_database:
        from backend.embedded import has_database

        if not has_database(settings.data_dir):
            _fail(
                f"No Voxtro database in {settings.data_dir}. Start it once there with `make dev`"
                " (or `voxtro dev`), or set VOXTRO_DATA_DIR to the folder that holds yours"
                " (DATABASE_URL to use another PostgreSQL)."
            )
    if settings.environment != "production":
        from backend.embedded import EmbeddedDatabaseError, prepare_environment

        try:
            found = prepare_environment(settings.data_dir, need_database=settings.embedded_database)
        except EmbeddedDatabaseError as exc:
            typer.echo(f"Error: {exc}", err=True)
            raise typer.Exit(1) from exc
        get_settings.cache_clear()
        settings = get_settings()
    if tables:
        asyncio.run(_check_schema(settings))
    return settings, found


async def _check_schema(settings: Settings) -> None:
    """A database without our tables (never migrated) fails every command: say so first."""
    import psycopg

    try:
        async with await psycopg.AsyncConnection.connect(settings.database_url) as conn:
            cur = await conn.execute("select to_regclass('public.workspaces') is not null")
            row = await cur.fetchone()
    except psycopg.OperationalError as exc:
        where = "the embedded database" if settings.embedded_database else "DATABASE_URL"
        _fail(f"Could not connect to {where}: {str(exc).strip().splitlines()[-1]}")
    if not row or not row[0]:
        _fail(
            "The database has no Voxtro tables yet. Run `voxtro migrate` (or start `make dev`"
            " once) first."
        )


def _migrate(settings: Settings) -> list[str]:
    from backend.migrate import migrate

    return asyncio.run(migrate(settings.database_url))


@app.command()
def dev(
    port: Annotated[
        int | None, typer.Option(help="Port to serve on (default: PORT or 8000)")
    ] = None,
) -> None:
    """Everything in one process: embedded Postgres, migrations, demo workspace, web and worker."""
    if port is not None:
        os.environ["PORT"] = str(port)
    os.environ.setdefault("LOG_JSON", "false")
    os.environ.setdefault("FETCH_ALLOW_LOOPBACK", "true")
    get_settings.cache_clear()
    settings, found = _bootstrap()
    # Before anything logs (migrations, the demo seed): structlog's defaults would colour lines
    # written into a pipe.
    configure_logging(level=settings.log_level, json=settings.log_json)
    _migrate(settings)

    from backend.app import create_app, server_options

    demo = demo_bot = None
    keys = None
    if settings.local_auth:
        from backend.auth.tokens import TokenService

        demo, demo_bot = asyncio.run(_seed(settings, found["demo_password"]))
        tokens = TokenService(settings)
        keys = (tokens.issue_api_role_key("anon"), tokens.issue_api_role_key("service_role"))
    _print_banner(settings, demo, keys, demo_bot)
    uvicorn.run(
        create_app(settings, run_jobs=True), **server_options(host="127.0.0.1", port=settings.port)
    )


async def _seed(settings: Settings, password: str) -> tuple[object, str | None]:
    """The demo account, and the id of the chatbot the demo page embeds (None: there is none)."""
    from backend.context import AppContext
    from backend.seed import seed_demo
    from backend.widget.repository import demo_bot

    context = AppContext.build(settings)
    await context.db.open()
    try:
        account = await seed_demo(context, password=password)
        async with context.db.system() as conn:
            bot = await demo_bot(conn)
        return account, None if bot is None else str(bot["id"])
    finally:
        await context.aclose()


def _print_banner(
    settings: Settings, demo: object, keys: tuple[str, str] | None, demo_bot: str | None = None
) -> None:
    url = settings.base_url
    lines = [
        "",
        "Voxtro is running.",
        "",
        f"         API URL: {url}",
        f"        API docs: {url}/docs",
        f"Widget demo page: {url}/demo",
        f"        Auth URL: {url}/auth/v1"
        if settings.local_auth
        else f"        Auth URL: {settings.supabase_url}/auth/v1",
        f"    Database URL: {settings.database_url}",
    ]
    if demo is not None:
        lines += [
            f"      Demo admin: {getattr(demo, 'email', '')}",
            f"   Demo password: {getattr(demo, 'password', '')}",
        ]
    if demo_bot is not None:
        lines.append(f"    Demo chatbot: {demo_bot}")
    if keys is not None:
        lines += [f"        anon key: {keys[0]}", f"service_role key: {keys[1]}"]
    lines += ["", "Press Ctrl-C to stop.", ""]
    typer.echo("\n".join(lines))


@app.command()
def serve(
    host: Annotated[str, typer.Option()] = "0.0.0.0",
    port: Annotated[int | None, typer.Option()] = None,
    with_worker: Annotated[bool, typer.Option(help="Also run jobs in this process")] = False,
) -> None:
    """The web process (production: behind a load balancer, any number of them)."""
    settings, _ = _bootstrap(existing=True)
    from backend.app import create_app, server_options

    uvicorn.run(
        create_app(settings, run_jobs=with_worker),
        **server_options(host=host, port=port or settings.port),
    )


@app.command()
def worker(
    concurrency: Annotated[int | None, typer.Option()] = None,
) -> None:
    """The job worker: crawls, e-mails, deliveries, scheduled work."""
    settings, _ = _bootstrap(existing=True)
    from backend.context import AppContext
    from backend.tasks import run_worker, task_app

    configure_logging(level=settings.log_level, json=settings.log_json)

    async def main() -> None:
        context = AppContext.build(settings)
        await context.db.open()
        await task_app.open_async(pool=context.db.pool)
        try:
            await run_worker(
                context, concurrency=concurrency or settings.worker_concurrency, handle_signals=True
            )
        finally:
            await task_app.close_async()
            await context.aclose()

    asyncio.run(main())


@app.command()
def migrate() -> None:
    """Apply the database migrations that have not run yet."""
    settings, _ = _bootstrap()
    applied = _migrate(settings)
    typer.echo(
        f"Applied {len(applied)} migration(s)" + (": " + ", ".join(applied) if applied else "")
    )


@app.command("create-user")
def create_user(
    email: Annotated[str, typer.Argument()],
    password: Annotated[str, typer.Option(prompt=True, hide_input=True)],
    workspace: Annotated[
        str | None, typer.Option(help="Also create this workspace, owned by the user")
    ] = None,
) -> None:
    """Create an admin user (in the local auth, or in Supabase Auth when SUPABASE_URL is set)."""
    settings, _ = _bootstrap(existing=True, tables=True)

    async def main() -> None:
        from backend.auth.subjects import User
        from backend.context import AppContext
        from backend.workspaces import service as workspace_service
        from backend.workspaces.schemas import WorkspaceCreate

        context = AppContext.build(settings)
        await context.db.open()
        try:
            user = await context.identity.create_user(
                email=email, password=password, user_metadata={}
            )
            typer.echo(f"Created user {user['id']} <{email}>")
            if workspace:
                claims = {"sub": user["id"], "role": "authenticated", "email": email}
                admin = User(id=user["id"], email=email, claims=claims)
                async with context.db.as_claims(claims) as conn:
                    row = await workspace_service.create(
                        conn, admin, WorkspaceCreate(name=workspace), settings
                    )
                typer.echo(f"Created workspace {row['id']} ({row['slug']})")
        finally:
            await context.aclose()

    try:
        asyncio.run(main())
    except VoxtroError as exc:
        typer.echo(f"Error: {exc.message}", err=True)
        raise typer.Exit(1) from exc


@app.command("rotate-secrets")
def rotate_secrets() -> None:
    """Re-encrypt every stored tenant secret (provider credentials, widget identity secrets,
    action headers) with the first key of ENCRYPTION_KEYS.

    Put the new key first and keep the old ones after it (`new,old`), run this, then the old
    keys may be removed. Safe to run again."""
    settings, _ = _bootstrap(existing=True, tables=True)

    async def main() -> tuple[int, int, int]:
        from backend.chatbots import service as chatbots
        from backend.connections import service as connections
        from backend.db import Database
        from backend.kit.crypto import SecretBox
        from backend.widget import identity

        box = SecretBox(settings.encryption_keys)
        db = Database(settings.database_url, min_size=1, max_size=1)
        await db.open()
        try:
            rotated = await connections.rotate(db, box)
            async with db.system() as conn:
                secrets = await identity.rotate_secrets(conn, box)
                headers = await chatbots.rotate_action_headers(conn, box)
            return rotated, secrets, headers
        finally:
            await db.close()

    try:
        rotated, secrets, headers = asyncio.run(main())
    except SecretBoxError as exc:
        _fail(f"{exc}: is every key that encrypted them still in ENCRYPTION_KEYS?")
    typer.echo(
        f"Re-encrypted with the newest key: the secrets of {rotated} connection(s),"
        f" {secrets} widget identity secret(s), the headers of {headers} action(s)"
    )


def _credit_amount(value: str) -> Decimal:
    try:
        amount = Decimal(value)
    except InvalidOperation as exc:
        raise typer.BadParameter("must be a number of US dollars, such as 25 or 12.50") from exc
    if not amount.is_finite() or not 0 < amount <= 1_000_000 or amount != round(amount, 4):
        raise typer.BadParameter("must be more than 0 and at most 1000000, in 4 decimals at most")
    return amount


@credits_app.command("grant")
def grant_credits(
    workspace: Annotated[str, typer.Argument(help="The workspace's slug, id or name")],
    amount: Annotated[Decimal, typer.Argument(help="US dollars", parser=_credit_amount)],
    note: Annotated[str | None, typer.Option(help="Why, for the ledger")] = None,
    reference: Annotated[
        str | None,
        typer.Option(help="Grant once per reference: a second run with it changes nothing"),
    ] = None,
) -> None:
    """Give a workspace credits (the ledger keeps each grant); prints the credits available."""
    if reference is not None and not 1 <= len(reference) <= 255:
        raise typer.BadParameter("must be 1 to 255 characters", param_hint="--reference")
    if note is not None and len(note) > 500:
        raise typer.BadParameter("must be at most 500 characters", param_hint="--note")
    settings, _ = _bootstrap(existing=True, tables=True)

    async def main() -> None:
        from backend.billing import credits_repository as credits
        from backend.db import Database

        db = Database(settings.database_url, min_size=1, max_size=1)
        await db.open()
        try:
            async with db.system() as conn:
                matches = await credits.find_workspaces(conn, workspace)
                if not matches:
                    _fail(f"no workspace with the slug, id or name '{workspace}'")
                if len(matches) > 1:
                    named = ", ".join(f"{m['slug']} ({m['id']})" for m in matches)
                    _fail(
                        f"{len(matches)} workspaces are named '{workspace}': {named}. Give the"
                        " slug or id of the one you mean."
                    )
                [found] = matches
                mode_before = await credits.billing_mode(conn, found["id"])
                granted = await credits.grant(
                    conn, found["id"], amount, "cli", reference or f"cli-{uuid.uuid4()}", note
                )
                mode = await credits.billing_mode(conn, found["id"])
                available = await credits.balance(conn, found["id"])
        finally:
            await db.close()
        if granted:
            typer.echo(f"Granted ${amount:,.2f} to {found['slug']} ({found['id']})")
        else:
            typer.echo(f"Already granted with the reference '{reference}': nothing changed")
        if mode != mode_before:
            typer.echo(
                f"Billing mode: {mode_before} -> {mode} (usage is now charged to these credits;"
                " the workspace pauses when they run out)"
            )
        typer.echo(f"Available credits: ${available:,.2f}")

    asyncio.run(main())


if __name__ == "__main__":
    app()
