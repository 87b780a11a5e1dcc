"""The omnichannel document's Cache API: statistics, and warming with known questions."""

from __future__ import annotations

from fastapi import APIRouter, status

from backend.auth.dependencies import AdminSubject, ApiSubject, Session
from backend.cache import repository, service
from backend.cache.schemas import CacheStats, CacheWarm, CacheWarmQueued, ChannelStats, TopQuery
from backend.kit.schemas import Envelope

router = APIRouter(prefix="/api/cache", tags=["cache"])


def _percent(part: int, whole: int) -> int:
    return round(part * 100 / whole) if whole else 0


@router.get("/stats", summary="Get response cache statistics")
async def cache_stats(subject: ApiSubject, session: Session) -> Envelope[CacheStats]:
    found = await repository.stats(session, subject.workspace_id)
    answers = {r["channel"]: r for r in found["answers"]}
    by_channel = {}
    for entry in found["entries"]:
        served = answers.get(entry["channel"], {"answers": 0, "from_cache": 0})
        by_channel[entry["channel"]] = ChannelStats(
            hitRate=_percent(served["from_cache"], served["answers"]), cached=entry["cached"]
        )
    total_answers = sum(r["answers"] for r in found["answers"])
    from_cache = sum(r["from_cache"] for r in found["answers"])
    return Envelope(
        data=CacheStats(
            totalCached=sum(e["cached"] for e in found["entries"]),
            totalHits=sum(int(e["hits"]) for e in found["entries"]),
            hitRate=_percent(from_cache, total_answers),
            byChannel=by_channel,
            topQueries=[TopQuery(query=t["query"], hits=t["hits"]) for t in found["top"]],
        )
    )


@router.post(
    "/warm", status_code=status.HTTP_202_ACCEPTED, summary="Warm the response cache with questions"
)
async def warm_cache(
    data: CacheWarm, subject: AdminSubject, session: Session
) -> Envelope[CacheWarmQueued]:
    """Answer these questions now, in the background, so visitors get them from the cache."""
    chatbot_id, queued = await service.warm(
        session, subject, chatbot_id=data.chatbotId, queries=data.queries
    )
    return Envelope(data=CacheWarmQueued(chatbotId=chatbot_id, queued=queued))
