"""Where a request's time goes: its total, and the part spent waiting on model providers.

The middleware reports both in a `Server-Timing` header (`app;dur=…, provider;dur=…`, in ms),
which browsers' developer tools show and the benchmarks read, so the platform's own overhead
(total minus provider) is measurable on every request.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

_provider_seconds: ContextVar[list[float] | None] = ContextVar("provider_seconds", default=None)


@contextmanager
def request_timer() -> Iterator[list[float]]:
    """Collect provider time for the request running in this context."""
    box = [0.0]
    token = _provider_seconds.set(box)
    try:
        yield box
    finally:
        _provider_seconds.reset(token)


@contextmanager
def provider_wait() -> Iterator[None]:
    """Count the time inside as spent waiting on a provider."""
    started = time.perf_counter()
    try:
        yield
    finally:
        box = _provider_seconds.get()
        if box is not None:
            box[0] += time.perf_counter() - started


def server_timing(total_seconds: float, provider_seconds: float) -> str:
    return f"app;dur={total_seconds * 1000:.2f}, provider;dur={provider_seconds * 1000:.2f}"
