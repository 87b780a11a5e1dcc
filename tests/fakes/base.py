"""What every provider fake shares: its Starlette app served on a real loopback port
(`with FakeX() as fake: fake.url`), a lock over its state (the server answers from a thread),
and failures injected with `fail_next`."""

from __future__ import annotations

import threading
from typing import Self

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from tests.fixtures.servers import LiveServer


class ProviderFake:
    def __init__(self, routes: list[BaseRoute]) -> None:
        self._failures: list[int] = []
        self._lock = threading.Lock()
        self._server: LiveServer | None = None
        self.app = Starlette(routes=routes)

    @property
    def url(self) -> str:
        assert self._server is not None, f"start the fake first: `with {type(self).__name__}()`"
        return self._server.url

    def __enter__(self) -> Self:
        self._server = LiveServer(self.app).__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.__exit__(*exc)
            self._server = None

    def fail_next(self, n: int = 1, status: int = 500) -> None:
        """The next `n` requests answer `status` (with the provider's error body)."""
        with self._lock:
            self._failures.extend([status] * n)

    def reset(self) -> None:
        with self._lock:
            self._failures.clear()

    def _take_failure(self) -> int | None:
        """The status the current request must fail with, if any (call with the lock held)."""
        return self._failures.pop(0) if self._failures else None
