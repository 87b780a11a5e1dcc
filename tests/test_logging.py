"""Development logs are readable lines: coloured at a terminal, plain when written into a pipe
or a file (a log collector, `make dev > dev.log`)."""

from __future__ import annotations

import os
import pty
import subprocess
import sys

import pytest

_LOG_ONE_LINE = (
    "from backend.logging import configure_logging; import structlog;"
    " configure_logging(json=False); structlog.get_logger('voxtro').warning('crawl_done', pages=3)"
)


@pytest.fixture(autouse=True)
def _clean_database() -> None:
    """No database here."""


def _log_into(stderr: int, **env: str) -> bytes:
    """What a process that logs one line writes to `stderr` (captured when it is PIPE)."""
    environment = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    return subprocess.run(
        [sys.executable, "-c", _LOG_ONE_LINE],
        stderr=stderr,
        stdout=subprocess.DEVNULL,
        env={**environment, "TERM": "xterm", **env},
        check=True,
        timeout=60,
    ).stderr


def _at_a_terminal(**env: str) -> bytes:
    leader, follower = pty.openpty()
    try:
        _log_into(follower, **env)
        os.close(follower)
        written = b""
        while True:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the other end is closed: everything is read
                break
            if not chunk:
                break
            written += chunk
        return written
    finally:
        os.close(leader)


def test_logs_into_a_pipe_have_no_colour_codes() -> None:
    written = _log_into(subprocess.PIPE)
    assert b"crawl_done" in written and b"pages=3" in written
    assert b"\x1b[" not in written


def test_logs_at_a_terminal_are_coloured_unless_no_color_is_set() -> None:
    coloured = _at_a_terminal()
    assert b"crawl_done" in coloured and b"\x1b[" in coloured
    plain = _at_a_terminal(NO_COLOR="1")
    assert b"crawl_done" in plain and b"\x1b[" not in plain
