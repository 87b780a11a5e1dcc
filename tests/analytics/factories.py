"""Usage and calls with known costs at known instants, for the analytics' hand-computed figures.

Written in SQL, since a usage row's time is when the model was called: the chat engine's own
rows (now, at the price table's cost) are covered by the tests that chat."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal

_call_ids = itertools.count(1)


async def add_usage(
    context,
    workspace_id: str,
    *,
    at: str,
    cost: str,
    service: str = "OPENAI_GPT",
    channel: str = "CHAT",
    preview: bool = False,
) -> None:
    async with context.db.system() as conn:
        await conn.execute(
            "insert into token_usage (workspace_id, service, channel, model, cost, price_version,"
            " is_preview, created_at) values (%s, %s, %s, 'gpt-4o', %s, '2026-11-01', %s, %s)",
            (workspace_id, service, channel, Decimal(cost), preview, datetime.fromisoformat(at)),
        )


async def add_call(
    context, workspace_id: str, *, at: str | None, cost: str, provider: str = "vapi"
) -> None:
    """A call that started `at` (None: one that never started, recorded now)."""
    async with context.db.system() as conn:
        await conn.execute(
            "insert into calls (workspace_id, provider, provider_call_id, status, started_at, cost)"
            " values (%s, %s, %s, 'resolved', %s, %s)",
            (
                workspace_id,
                provider,
                f"call-{next(_call_ids)}",
                datetime.fromisoformat(at) if at else None,
                Decimal(cost),
            ),
        )
