"""One error body everywhere, limits on what a request may be, and the rate limit."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from backend.app import create_app
from backend.errors import install_error_handlers
from tests.conftest import make_settings
from tests.fixtures.factories import create_admin, create_api_key


def assert_error_shape(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False and body["status"] == "error"
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]
    assert isinstance(body["errors"], list)
    return body


async def test_unknown_route_and_wrong_method(client):
    assert_error_shape(await client.get("/api/no-such-thing"), 404, "NOT_FOUND")
    assert_error_shape(await client.delete("/healthz"), 405, "METHOD_NOT_ALLOWED")


async def test_malformed_json_and_wrong_types(client, admin):
    malformed = await client.post(
        "/api/workspaces",
        headers={**admin.headers, "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert_error_shape(malformed, 400, "BAD_REQUEST")
    wrong_type = await client.post("/api/workspaces", headers=admin.headers, json={"name": 42})
    body = assert_error_shape(wrong_type, 400, "VALIDATION_ERROR")
    assert body["errors"][0]["field"] == "name"
    listed = await client.get("/api/workspaces", headers=admin.headers)
    assert len(listed.json()["data"]) == 1  # nothing was created


async def test_oversize_bodies_are_refused(client, admin, settings):
    too_big = b'{"name": "' + b"x" * (settings.max_body_bytes + 10) + b'"}'
    response = await client.post(
        "/api/workspaces",
        headers={**admin.headers, "Content-Type": "application/json"},
        content=too_big,
    )
    assert_error_shape(response, 413, "PAYLOAD_TOO_LARGE")


async def test_unexpected_errors_are_a_500_in_the_same_shape():
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/boom")
    async def boom() -> None:
        raise RuntimeError("secret internals")

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        body = assert_error_shape(await c.get("/boom"), 500, "INTERNAL_ERROR")
    assert "secret" not in body["message"]


async def test_every_response_has_a_request_id(client):
    response = await client.get("/healthz")
    assert len(response.headers["x-request-id"]) >= 16
    echoed = await client.get("/healthz", headers={"X-Request-Id": "trace-123"})
    assert echoed.headers["x-request-id"] == "trace-123"


async def test_rate_limit_headers_and_429(database_url, anon_key):
    app = create_app(make_settings(database_url, rate_limit_authenticated="3/15 minutes"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            admin = await create_admin(c, anon_key, "limited")  # 1 request on the user's limit
            key = (await create_api_key(c, admin))["key"]  # 2
            response = await c.get("/api/workspaces", headers=admin.headers)  # 3
            assert response.headers["x-ratelimit-limit"] == "3"
            assert response.headers["x-ratelimit-remaining"] == "0"
            assert int(response.headers["x-ratelimit-reset"]) > 1_700_000_000

            limited = await c.get("/api/workspaces", headers=admin.headers)
            assert_error_shape(limited, 429, "RATE_LIMIT_EXCEEDED")
            assert limited.headers["x-ratelimit-remaining"] == "0"

            # The API key has a window of its own.
            by_key = await c.get("/api/workspaces/current", headers={"X-API-Key": key})
            assert by_key.status_code == 200
            assert by_key.headers["x-ratelimit-remaining"] == "2"


async def test_the_chicx_guides_routes_answer_its_own_rate_limit_code(database_url):
    """The CHICX guide (the stats API, the shop notifications) calls a 429 `RATE_LIMITED`;
    every other route answers `RATE_LIMIT_EXCEEDED`, as the omnichannel document says."""
    app = create_app(make_settings(database_url, rate_limit_anonymous="1/15 minutes"))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
            first = await c.get("/api/stats/overview")  # the address's one request
            assert first.status_code == 401
            assert_error_shape(await c.get("/api/stats/overview"), 429, "RATE_LIMITED")
            shop = await c.post("/webhooks/shop/confirm-order", json={})
            assert_error_shape(shop, 429, "RATE_LIMITED")
            assert_error_shape(await c.get("/api/workspaces"), 429, "RATE_LIMIT_EXCEEDED")
            assert_error_shape(await c.get("/api/bolna/connection"), 429, "RATE_LIMIT_EXCEEDED")


async def test_oversize_streamed_bodies_are_refused(client, admin, settings):
    async def chunks():
        for _ in range(settings.max_body_bytes // 65536 + 2):
            yield b"x" * 65536

    response = await client.post(
        "/api/workspaces",
        headers={**admin.headers, "Content-Type": "application/json"},
        content=chunks(),
    )
    assert_error_shape(response, 413, "PAYLOAD_TOO_LARGE")


def test_webhook_tokens_in_urls_never_reach_the_logs():
    from backend.middleware import loggable_path

    # The request log line records `loggable_path(path)`.
    assert loggable_path("/api/webhooks/bolna/the-secret-token") == "/api/webhooks/bolna/…"
    assert loggable_path("/api/webhooks/elevenlabs/another-secret") == "/api/webhooks/elevenlabs/…"
    assert loggable_path("/api/webhooks/vapi") == "/api/webhooks/vapi"
    assert loggable_path("/api/chatbots/bolna/x") == "/api/chatbots/bolna/x"
