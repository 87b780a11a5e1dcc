"""`/openapi.json` says what the API does (a summary per operation, every tag described, the one
error body, 400 for invalid input, who may call what), and `/docs` works without internet and
signed in, in a real browser."""

from __future__ import annotations

import re
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, Request, Route, async_playwright

from tests.fixtures.browser import CHROMIUM, CHROMIUM_ARGS
from tests.fixtures.factories import create_admin, create_api_key
from tests.fixtures.servers import LiveServer

TIMEOUT_MS = 15_000
# Swagger UI reads an OpenAPI 3.1 spec of this size in seconds, many more on a busy machine.
RENDER_TIMEOUT_MS = 120_000


@pytest.fixture
async def spec(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    return response.json()


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            yield method.upper(), path, operation


def schemes_of(operation: dict[str, Any]) -> set[str]:
    return {name for requirement in operation.get("security", []) for name in requirement}


async def test_every_operation_says_what_it_does_in_its_own_words(spec):
    summaries = Counter(op.get("summary") for _, _, op in operations(spec))
    assert None not in summaries and "" not in summaries
    assert [s for s, n in summaries.items() if n > 1] == []
    # Named after their functions, these two were both "Connect" and "Connection Status",
    # like Bolna's.
    voice = {(m, p): op["summary"] for m, p, op in operations(spec) if "/voice/connect" in p}
    assert voice == {
        ("POST", "/api/voice/connect"): "Connect VAPI (private and public keys)",
        ("GET", "/api/voice/connect"): "Get the VAPI connection status",
    }


async def test_every_tag_is_described(spec):
    described = {t["name"]: t.get("description", "") for t in spec["tags"]}
    used = {tag for _, _, op in operations(spec) for tag in op.get("tags", [])}
    assert used and used <= set(described)
    assert all(len(described[tag]) > 20 for tag in used)
    assert all(op.get("tags") for _, _, op in operations(spec))


def response(spec: dict[str, Any], method: str, path: str, status: str) -> dict[str, Any]:
    """A documented response, its `$ref` to the shared responses followed."""
    documented: dict[str, Any] = spec["paths"][path][method.lower()]["responses"][status]
    if "$ref" in documented:
        documented = spec["components"]["responses"][documented["$ref"].rsplit("/", 1)[1]]
    return documented


async def test_errors_are_documented_as_the_one_body_and_invalid_input_as_400(spec):
    error_body = spec["components"]["schemas"]["ErrorBody"]
    assert {"success", "status", "code", "message", "errors"} <= set(error_body["properties"])
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    ref = {"$ref": "#/components/schemas/ErrorBody"}
    for method, path, op in operations(spec):
        responses = op["responses"]
        assert "422" not in responses, (method, path)
        assert list(responses)[-1] == "default"
        default = response(spec, method, path, "default")
        assert default["content"]["application/json"]["schema"] == ref
        if op.get("parameters") or op.get("requestBody"):
            bad_input = response(spec, method, path, "400")["content"]["application/json"]
            assert bad_input["schema"] == ref, (method, path)
            assert bad_input["example"]["code"] == "VALIDATION_ERROR"
        if op.get("security"):
            assert {"401", "403", "429"} <= set(responses), (method, path)
        if "{" in path:
            assert "404" in responses, (method, path)


async def test_the_documented_400_is_what_invalid_input_gets(client, admin, spec):
    documented = response(spec, "POST", "/api/chatbots", "400")
    example = documented["content"]["application/json"]["example"]
    answer = await client.post("/api/chatbots", headers=admin.headers, json={"name": 42})
    assert answer.status_code == 400
    body = answer.json()
    assert set(body) == set(example)
    assert body["code"] == example["code"] == "VALIDATION_ERROR"
    assert body["errors"][0]["field"] == "name"


async def test_security_schemes_are_declared_and_say_who_may_call(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["BearerJWT"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["BearerJWT"]["description"],
    }
    assert schemes["ApiKey"]["type"] == "apiKey"
    assert (schemes["ApiKey"]["in"], schemes["ApiKey"]["name"]) == ("header", "X-API-Key")
    by_route = {(m, p): schemes_of(op) for m, p, op in operations(spec)}
    assert by_route[("POST", "/api/chatbots")] == {"BearerJWT"}  # admins only
    assert by_route[("GET", "/api/leads")] == {"BearerJWT", "ApiKey"}  # admins or integrations
    assert by_route[("GET", "/api/stats/overview")] == {"BearerJWT", "ApiKey"}
    assert by_route[("POST", "/webhooks/{slug}/confirm-order")] == {"ApiKey"}  # integrations only
    assert by_route[("GET", "/api/customers/portal/me")] == {"BearerJWT"}  # customers
    assert by_route[("GET", "/api/widget/{chatbot_id}/config")] == set()  # public
    assert by_route[("GET", "/healthz")] == set()


def _url(path: str) -> str:
    # Any id or slug will do: the credential is refused before anything is looked up.
    return re.sub(r"\{[^}]+\}", lambda m: "shop" if m[0] == "{slug}" else str(uuid.uuid4()), path)


async def test_each_operation_refuses_the_credentials_it_does_not_list(client, admin, spec):
    """The documented security is the real one: no credential is a 401 wherever one is listed,
    and an admin's token or an API key where it is not listed is refused (401 or 403)."""
    key = (await create_api_key(client, admin, ["api", "stats:read", "notifications:send"]))["key"]
    checked = 0
    for method, path, op in operations(spec):
        schemes = schemes_of(op)
        if not schemes:
            continue
        url = _url(path)
        anonymous = await client.request(method, url)
        assert anonymous.status_code == 401, (method, path, anonymous.text)
        assert anonymous.json()["code"] == "UNAUTHORIZED"
        if "ApiKey" not in schemes:
            keyed = await client.request(method, url, headers={"X-API-Key": key})
            assert keyed.status_code in (401, 403), (method, path, keyed.text)
        if "BearerJWT" not in schemes:
            signed_in = await client.request(method, url, headers=admin.headers)
            assert signed_in.status_code in (401, 403), (method, path, signed_in.text)
        checked += 1
    assert checked > 100


async def test_docs_pages_load_their_assets_from_us(client):
    for page in ("/docs", "/redoc"):
        html = (await client.get(page)).text
        assets = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert len(assets) >= 2, page  # the script (and style sheet), the icon
        for asset in assets:
            assert urlsplit(asset).netloc == "" and asset.startswith("/"), asset
            response = await client.get(asset)
            assert response.status_code == 200, asset
            kind = response.headers["content-type"]
            if asset.endswith(".js"):
                assert "javascript" in kind and len(response.content) > 100_000
            elif asset.endswith(".css"):
                assert kind.startswith("text/css")
            else:
                assert kind.startswith("image/")
        assert "://" not in html, page  # no absolute URL anywhere on the page


async def test_answers_that_are_not_json_are_documented_as_such(client, spec):
    link = spec["paths"]["/auth/v1/verify"]["get"]["responses"]
    assert [s for s in link if s.startswith(("2", "3"))] == ["303"]
    answer = await client.get("/auth/v1/verify", params={"token": "nope", "type": "magiclink"})
    assert answer.status_code == 303 and "#" in answer.headers["location"]
    for method, path in [
        ("post", "/api/chat/message"),
        ("post", "/api/widget/{chatbot_id}/message"),
        ("post", "/v1/chat/completions"),
    ]:
        content = spec["paths"][path][method]["responses"]["200"]["content"]
        assert set(content) == {"application/json", "text/event-stream"}, path


# -- in a browser with no internet ------------------------------------------------------------


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        await browser.close()


@pytest.fixture
async def offline_page(browser: Browser, live_server: LiveServer) -> AsyncIterator[Page]:
    """A page that can reach our server and nothing else, as on a machine without internet;
    what it tried to reach elsewhere is in `page.outside`."""
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    ours = urlsplit(live_server.url).netloc
    outside: list[str] = []

    async def only_ours(route: Route, request: Request) -> None:
        if urlsplit(request.url).netloc == ours:
            await route.continue_()
        else:
            outside.append(request.url)
            await route.abort()

    await context.route("**/*", only_ours)
    page = await context.new_page()
    page.outside = outside  # type: ignore[attr-defined]
    yield page
    await context.close()


async def test_docs_work_offline_and_signed_in(offline_page, live_server, anon_key):
    page = offline_page
    async with httpx.AsyncClient(base_url=live_server.url) as api:
        admin = await create_admin(api, anon_key, "docs-reader")

    await page.goto(f"{live_server.url}/docs")
    await page.locator(".opblock").first.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert await page.locator(".opblock").count() > 100
    assert await page.get_by_text("Connect VAPI (private and public keys)").count() == 1

    await page.locator("button.authorize").first.click()
    dialog = page.locator(".dialog-ux .modal-ux")
    await dialog.wait_for()
    assert await dialog.get_by_text("BearerJWT").count() >= 1
    assert await dialog.get_by_text("X-API-Key").count() >= 1
    bearer = dialog.locator(".auth-container").filter(has_text="BearerJWT")
    await bearer.locator("input").fill(admin.token)
    await bearer.locator("button.authorize").click()
    await bearer.get_by_text("Authorized", exact=True).wait_for()
    await dialog.locator("button.btn-done").first.click()

    me = page.locator(".opblock").filter(has_text="Get the signed-in user")
    await me.locator(".opblock-summary").click()
    await me.get_by_role("button", name="Try it out").click()
    await me.get_by_role("button", name="Execute").click()
    answer = me.locator(".live-responses-table tbody .response-col_status").first
    await answer.wait_for()
    assert (await answer.inner_text()).strip().startswith("200")
    assert admin.email in await me.locator(".live-responses-table").inner_text()
    assert page.outside == []  # type: ignore[attr-defined]


async def test_redoc_works_offline(offline_page, live_server):
    page = offline_page
    await page.goto(f"{live_server.url}/redoc")
    heading = page.get_by_role("heading", name="Get the signed-in user")
    await heading.wait_for(timeout=RENDER_TIMEOUT_MS)
    assert page.outside == []  # type: ignore[attr-defined]
