"""Meta's Graph API (the fake) and the API pointed at it, for every WhatsApp test."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from backend.context import AppContext
from tests.conftest import app_with
from tests.fakes.whatsapp import FakeGraph


@pytest.fixture(scope="session")
def graph_server(fake_graph_server: FakeGraph) -> FakeGraph:
    """The session's Graph fake: the one the `client` fixture's app talks to."""
    return fake_graph_server


@pytest.fixture
def graph(graph_server: FakeGraph) -> FakeGraph:
    """Meta's Graph API (fake), knowing nothing yet."""
    graph_server.reset()
    return graph_server


@pytest.fixture
async def whatsapp_api(
    database_url: str, graph: FakeGraph
) -> AsyncIterator[tuple[httpx.AsyncClient, AppContext]]:
    """The API, with the Graph API at the fake."""
    async with app_with(database_url, whatsapp_api_url=graph.url) as (client, context):
        yield client, context
