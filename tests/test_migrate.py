from backend.migrate import MIGRATIONS_DIR, migrate


async def test_migrations_run_once_and_are_recorded(database_url, context):
    assert await migrate(database_url) == []  # the session already applied everything
    async with context.db.system() as conn:
        rows = await (await conn.execute("select version from schema_migrations")).fetchall()
    versions = {r["version"] for r in rows}
    assert {p.stem for p in MIGRATIONS_DIR.glob("*.sql")} <= versions
    assert {"supabase/postgres_compat", "procrastinate/schema"} <= versions
