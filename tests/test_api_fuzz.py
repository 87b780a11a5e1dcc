"""The whole API under generated requests (schemathesis over `/openapi.json`, in-process): no
request, however odd, gets a server error, and every answer matches the published spec.

Bounded and seeded so it is the same modest run every time; `make fuzz` runs many more examples
(FUZZ_EXAMPLES) with a seed of its own choosing (FUZZ_SEED).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, seed, settings
from schemathesis import Case
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from backend.app import create_app
from tests.conftest import make_settings
from tests.fakes.bolna import FakeBolna
from tests.fakes.elevenlabs import FakeElevenLabs
from tests.fakes.openai import FakeOpenAI
from tests.fakes.stripe import SECRET_KEY as STRIPE_SECRET_KEY
from tests.fakes.stripe import WEBHOOK_SECRET as STRIPE_WEBHOOK_SECRET
from tests.fakes.stripe import FakeStripe
from tests.fakes.vapi import FakeVapi
from tests.fakes.whatsapp import FakeGraph
from tests.fixtures.factories import Admin, create_admin
from tests.fixtures.servers import LiveServer

DEFAULT_SEED = 20261207
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "5"))
SEED = int(os.environ.get("FUZZ_SEED", str(DEFAULT_SEED)))


@pytest.fixture(autouse=True)
def _clean_database() -> None:
    """Not emptied between operations: the admin (and what the requests make) stay all along."""


@pytest.fixture(scope="module")
def fuzz_server(database_url: str, fake_openai_server: FakeOpenAI) -> Iterator[LiveServer]:
    # Every provider is there (faked at its HTTP boundary), Stripe billing too: a generated
    # request meets the product as it runs, not a "not configured" or "unreachable" answer.
    with (
        FakeVapi() as vapi,
        FakeElevenLabs() as elevenlabs,
        FakeBolna() as bolna,
        FakeStripe() as stripe,
        FakeGraph() as graph,
    ):
        app = create_app(
            make_settings(
                database_url,
                openai_base_url=fake_openai_server.base_url,
                vapi_base_url=vapi.url,
                elevenlabs_base_url=elevenlabs.url,
                bolna_base_url=bolna.url,
                whatsapp_api_url=graph.url,
                stripe_secret_key=STRIPE_SECRET_KEY,
                stripe_webhook_secret=STRIPE_WEBHOOK_SECRET,
                stripe_api_base=stripe.url,
                # Generated requests come fast and from one address.
                rate_limit_chat_visitor="100000/minute",
            )
        )
        # Served on a loopback port in this process, as `voxtro dev` serves it: the app keeps
        # its own event loop (its pool lives there), and requests go through uvicorn.
        with LiveServer(app) as server:
            yield server


@pytest.fixture(scope="module")
async def fuzz_admin(app: Any, anon_key: str) -> Admin:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await create_admin(client, anon_key, "fuzz")


# The spec is the routes': an app that is never started serves it as well as the one under test.
schema = schemathesis.openapi.from_dict(create_app(make_settings("postgresql:///unused")).openapi())


# What a request must never get, and what every answer must be: a status, a content type and a
# body that the spec declares for that operation.
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.generate],
)


@schema.parametrize()
@FUZZ
@seed(SEED)
def test_anonymous_requests(case: Case, fuzz_server: LiveServer) -> None:
    case.call_and_validate(base_url=fuzz_server.url, checks=CHECKS)


# Signing out would end the session the rest of the run uses.
@schema.exclude(path="/auth/v1/logout").parametrize()
@FUZZ
@seed(SEED)
def test_requests_of_a_signed_in_admin(
    case: Case, fuzz_server: LiveServer, fuzz_admin: Admin
) -> None:
    case.call_and_validate(base_url=fuzz_server.url, headers=fuzz_admin.headers, checks=CHECKS)
