"""Fixed-window rate limits per caller, in memory or in Redis (`REDIS_URL`) when scaled out."""

from __future__ import annotations

from dataclasses import dataclass

import limits
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string


@dataclass(frozen=True, slots=True)
class RateLimitState:
    limit: int
    remaining: int
    reset_at: int  # Unix timestamp
    allowed: bool

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset_at),
        }


class RateLimiter:
    def __init__(self, redis_url: str = "") -> None:
        storage = storage_from_string(f"async+{redis_url}") if redis_url else MemoryStorage()
        assert isinstance(storage, Storage)  # the "async+" scheme gives the asyncio flavour
        self._limiter = FixedWindowRateLimiter(storage)

    async def hit(self, rule: str, key: str) -> RateLimitState:
        """Count one request of `key` against `rule` (e.g. "200/15 minutes")."""
        item = limits.parse(rule)
        allowed = await self._limiter.hit(item, key)
        stats = await self._limiter.get_window_stats(item, key)
        return RateLimitState(
            limit=item.amount,
            remaining=stats.remaining,
            reset_at=int(stats.reset_time),
            allowed=allowed,
        )
