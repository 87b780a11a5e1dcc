from __future__ import annotations

from fastapi import APIRouter

from backend.context import Context
from backend.errors import VoxtroError

router = APIRouter(tags=["health"])


class NotReady(VoxtroError):
    status_code = 503
    code = "NOT_READY"


@router.get("/healthz", summary="Check that the process is up")
async def healthz() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


@router.get("/readyz", summary="Check that the process can serve (database reachable)")
async def readyz(context: Context) -> dict[str, str]:
    """The process can serve: its database answers."""
    try:
        async with context.db.system() as conn:
            await conn.execute("select 1")
    except Exception as exc:
        raise NotReady("Database unreachable") from exc
    return {"status": "ok", "database": "ok"}
