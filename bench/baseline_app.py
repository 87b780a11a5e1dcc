"""The baseline of bench/chat_overhead.py: a bare FastAPI endpoint doing one insert, on the same
stack (uvicorn, psycopg pool, the same PostgreSQL)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from psycopg_pool import AsyncConnectionPool
from pydantic import BaseModel

from backend.logging import configure_logging
from backend.middleware import RequestContextMiddleware

pool = AsyncConnectionPool(os.environ["DATABASE_URL"], min_size=2, max_size=20, open=False)


@asynccontextmanager
async def lifespan(_: FastAPI) -> AsyncIterator[None]:
    await pool.open(wait=True)
    async with pool.connection() as conn:
        await conn.execute(
            "create table if not exists bench_baseline (id bigserial primary key,"
            " visitor_id text, message text, created_at timestamptz default now())"
        )
    yield
    await pool.close()


configure_logging(level="WARNING")
app = FastAPI(lifespan=lifespan)
# The same request middleware as Voxtro's, so both report their time the same way.
app.add_middleware(RequestContextMiddleware)
# The same request middleware as Voxtro's, so both report their time the same way.
app.add_middleware(RequestContextMiddleware)


class Message(BaseModel):
    visitor_id: str
    message: str


@app.post("/insert")
async def insert(data: Message) -> dict[str, object]:
    async with pool.connection() as conn:
        cur = await conn.execute(
            "insert into bench_baseline (visitor_id, message) values (%s, %s) returning id",
            (data.visitor_id, data.message),
        )
        row = await cur.fetchone()
    return {"id": row[0] if row else None, "message": data.message}
