"""The README's list of the routes that take an API key, and docs/api-conventions.md's table of
response shapes, checked against the routes themselves: a new route that takes a key, or
answers in another shape than its group's, fails here until the documents say so."""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from backend.api import routers
from backend.kit.schemas import Envelope
from backend.notifications.dependencies import SCOPE as SENDER_SCOPE
from backend.notifications.dependencies import notification_sender

ROOT = Path(__file__).resolve().parent.parent
ROUTE = re.compile(r"`(GET|POST|PUT|PATCH|DELETE) (/[^`\s]*)`")


@pytest.fixture(autouse=True)
def _clean_database() -> None:
    """Routes only: no database."""


def _routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        included = getattr(route, "original_router", None)  # FastAPI's included routers
        if included is not None:
            yield from _routes(included.routes)
        elif isinstance(route, APIRoute):
            yield route


ROUTES = [route for router in routers(local_auth=True) for route in _routes(router.routes)]


def _key_access(dependant: Dependant) -> tuple[str, bool] | None:
    """The scope a route's API key needs, and whether an admin's token also does; None: the
    route takes no key."""
    for sub in dependant.dependencies:
        call = sub.call
        name = getattr(call, "__qualname__", "")
        if name.startswith(("api_subject.", "api_key_subject.")):
            scope = inspect.getclosurevars(call).nonlocals["scope"]
            return scope, name.startswith("api_subject.")
        if call is notification_sender:
            return SENDER_SCOPE, False
        found = _key_access(sub)
        if found is not None:
            return found
    return None


def _section(path: Path, heading: str) -> str:
    """From `heading` to the next heading of level 2 or 3 (a `#` alone starts shell comments)."""
    text = path.read_text()
    start = text.index(heading)
    end = re.compile(r"^#{2,3} ", re.MULTILINE).search(text, start + len(heading))
    return text[start : end.start() if end else None]


def test_the_readme_lists_every_route_that_takes_an_api_key() -> None:
    documented: dict[tuple[str, str], tuple[str, bool]] = {}
    for row in _section(ROOT / "README.md", "### API keys").splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        if len(cells) != 3 or not ROUTE.search(cells[0]):
            continue
        scope = cells[1].strip("`")
        admin_too = cells[2].lower().startswith("yes")
        for method, path in ROUTE.findall(cells[0]):
            documented[(method, path)] = (scope, admin_too)
    in_code = {
        (method, route.path): access
        for route in ROUTES
        if (access := _key_access(route.dependant)) is not None
        for method in route.methods
    }
    assert documented == in_code


def _shape_table() -> tuple[list[tuple[list[str], str]], str]:
    rows: list[tuple[list[str], str]] = []
    default = ""
    for row in _section(ROOT / "docs/api-conventions.md", "## Which shape").splitlines():
        cells = [c.strip() for c in row.strip().strip("|").split("|")]
        shape = re.search(r"\*\*(plain|envelope|own)\*\*", cells[-1])
        if len(cells) != 3 or shape is None:
            continue
        if cells[0].startswith("everything else"):
            default = shape.group(1)
        else:
            rows.append((re.findall(r"`([^`]+)`", cells[0]), shape.group(1)))
    return rows, default


def _matches(pattern: str, method: str, path: str) -> bool:
    wanted_method, _, wanted = pattern.rpartition(" ")
    if wanted_method and wanted_method != method:
        return False
    if wanted.endswith("…"):
        return path.startswith(wanted.removesuffix("…"))
    return path == wanted


def test_every_route_answers_in_its_documented_shape() -> None:
    rows, default = _shape_table()
    assert rows and default == "envelope"
    wrong = []
    for route in ROUTES:
        model = route.response_model
        if route.status_code == 204 or model is None:  # no body, or not JSON (pages, files)
            continue
        actual = "envelope" if isinstance(model, type) and issubclass(model, Envelope) else "plain"
        for method in route.methods:
            expected = next(
                (
                    shape
                    for patterns, shape in rows
                    if any(_matches(p, method, route.path) for p in patterns)
                ),
                default,
            )
            if expected != "own" and actual != expected:
                wrong.append(f"{method} {route.path}: {actual}, documented {expected}")
    assert wrong == []
