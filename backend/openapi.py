"""What `/openapi.json` says beyond what each route declares: the tags and what they are for, and
the error responses, which follow from what an operation takes (inputs can be invalid, a
credential can be refused, a path names something that may not exist). Swagger UI and ReDoc are
served by `fastapi-offline` from its own copy of their files, so `/docs` works without internet.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html
from fastapi.responses import HTMLResponse

from backend.kit.schemas import ErrorBody

# Where fastapi-offline serves Swagger UI's and ReDoc's files.
DOCS_ASSETS = "/static-offline-docs"

# ReDoc shows Redocly's logo from Redocly's CDN whatever its options say; this page's policy
# keeps that request, and any other, on our own site.
_REDOC_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
    "worker-src 'self' blob:"
)

API_DESCRIPTION = """\
AI customer conversations: chatbots, widget, WhatsApp, voice, analytics.

**Authentication.** Admins and customers send a Supabase Auth access token as
`Authorization: Bearer <jwt>` (get one from `POST /auth/token`); integrations send a workspace
API key as `X-API-Key: vx_live_…`. Each operation lists what it accepts; use **Authorize** to
try them here. Admins with several workspaces pick one with `X-Workspace-Id`.

**Errors.** Every error has one body: `{"success": false, "status": "error", "code": "NOT_FOUND",
"message": "…", "errors": [{"field": "…", "message": "…"}]}`. Invalid input is a 400
`VALIDATION_ERROR` listing each problem in `errors`, and changes nothing.
"""

TAGS: list[dict[str, str]] = [
    {"name": "health", "description": "Liveness and readiness probes for load balancers."},
    {
        "name": "auth",
        "description": "Sign-up, password sign-in (an access token for `Authorization: Bearer`), "
        "and who the caller is. The token is a Supabase Auth JWT: sign in here, or with "
        "Supabase's own clients.",
    },
    {
        "name": "auth (Supabase-compatible)",
        "description": "A subset of the Supabase Auth HTTP API, served when no `SUPABASE_URL` is "
        "configured, so the official Supabase client libraries work unchanged. Like Supabase, it "
        "takes the project's anon or service key in the `apikey` header, and its errors carry "
        "Supabase's `error_code` and `msg` besides the platform's fields.",
    },
    {
        "name": "workspaces",
        "description": "A workspace is one business, its data and its members. An admin acts in "
        "their selected workspace, or the one named by `X-Workspace-Id`.",
    },
    {
        "name": "api keys",
        "description": "Workspace API keys (`vx_live_…`) for integrations, sent as `X-API-Key`. "
        "A key is shown once, when created; each carries scopes (`api`, `stats:read`, "
        "`notifications:send`, `conversations:read`, `conversations:write`, `whatsapp:send`, "
        "`whatsapp:read`).",
    },
    {
        "name": "business",
        "description": "The workspace's business profile, AI configuration (prompt, tone, "
        "language, prohibited topics, fallback), credits, monthly budget and budget alerts.",
    },
    {
        "name": "billing",
        "description": "Buying credits and plans with Stripe Checkout, and Stripe's billing "
        "portal. Answers 503 `BILLING_NOT_CONFIGURED` when Stripe is not set up.",
    },
    {
        "name": "analytics",
        "description": "The dashboard's figures and the cost breakdown of a period.",
    },
    {
        "name": "connections",
        "description": "The workspace's own provider credentials: its OpenAI key and its shop's "
        "product and order API. Stored encrypted, checked with the provider first.",
    },
    {
        "name": "chatbots",
        "description": "Chatbots and what shapes their answers: FAQs, forms shown in the widget, "
        "and actions (HTTP calls the model may make).",
    },
    {
        "name": "knowledge",
        "description": "What a chatbot knows: websites (crawled, and re-crawled on a schedule), "
        "pasted text and uploaded files, searched for every answer.",
    },
    {
        "name": "chat",
        "description": "Send a message to a chatbot and get its answer, as JSON or as "
        "server-sent events. Public: the chatbot id is the only credential.",
    },
    {
        "name": "OpenAI-compatible",
        "description": "`POST /v1/chat/completions` for the official OpenAI SDKs: `model` names a "
        "chatbot of the workspace whose API key is sent.",
    },
    {
        "name": "cache",
        "description": "The response cache: its hit rate, and warming it with known questions.",
    },
    {
        "name": "widget",
        "description": "The embeddable widget's public API (a bot's look, visitor messages and "
        "history, form submissions) and the secret for verifying signed-in users.",
    },
    {
        "name": "conversations",
        "description": "Conversations on every channel (web chat, portal, API, WhatsApp, voice), "
        "their messages with delivery status, and closing one.",
    },
    {
        "name": "customers",
        "description": "The workspace's customers, their portal logins and support tickets; and "
        "the customer portal, for customers signed in with their own token.",
    },
    {
        "name": "contacts",
        "description": "One person per phone number and channel identity (WhatsApp id, widget "
        "visitor), with custom attributes and marketing consent: the bot builder's contacts.",
    },
    {
        "name": "leads",
        "description": "Leads extracted by the model from conversations: name, contact details, "
        "intent.",
    },
    {
        "name": "notifications",
        "description": "E-mails sent through the platform, the website contact form, and the "
        "shop notifications (`/webhooks/{slug}/…`) that place order confirmation calls.",
    },
    {
        "name": "stats",
        "description": "Figures for an external dashboard: messages, conversations and calls "
        "across every channel. Takes an API key with the `stats:read` scope.",
    },
    {
        "name": "voice",
        "description": "Voice assistants on VAPI (connect, sync, edit, import calls) and order "
        "confirmation calls through a Bolna agent.",
    },
    {
        "name": "whatsapp",
        "description": "WhatsApp on Meta's Cloud API: a bot's numbers (`/bots/`), the "
        "workspace's WhatsApp settings, message templates synced from Meta, sending, and "
        "Meta's webhooks.",
    },
    {
        "name": "whatsapp agents",
        "description": "WhatsApp agents on ElevenLabs: connect the key, sync and edit agents, and "
        "the secret of ElevenLabs' post-call webhook.",
    },
    {
        "name": "webhooks",
        "description": "Where providers (Stripe, VAPI, Bolna, ElevenLabs, Meta's WhatsApp) post "
        "their events. Each is verified with the provider's signature or secret, stored once, "
        "and processed in the background.",
    },
]

_ERROR_DESCRIPTION = (
    "An error, in the platform's one body: `code` says which (`CONFLICT`, `PAYLOAD_TOO_LARGE`, "
    "`RATE_LIMIT_EXCEEDED`, `PROVIDER_UNAVAILABLE`, `INTERNAL_ERROR`, …)."
)

# The app's `responses`: it puts ErrorBody among the schemas, and a `default` response keeps
# FastAPI from documenting its 422, which we never answer (invalid input is a 400).
DEFAULT_RESPONSES: dict[int | str, dict[str, Any]] = {
    "default": {"model": ErrorBody, "description": _ERROR_DESCRIPTION}
}


def _error(
    description: str, code: str | None = None, message: str = "", **extra: Any
) -> dict[str, Any]:
    content: dict[str, Any] = {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
    if code is not None:
        content["example"] = {
            "success": False,
            "status": "error",
            "code": code,
            "message": message,
            "errors": extra.get("errors", []),
        }
    return {"description": description, "content": {"application/json": content}}


# Shared under `components/responses`, so the spec (and /docs) stays small.
_ERRORS = {
    "Error": _error(_ERROR_DESCRIPTION),
    "ValidationError": _error(
        "Invalid request data: `VALIDATION_ERROR`, with one entry in `errors` per problem "
        "(`BAD_REQUEST` for a body that is not JSON, or a request the operation refuses).",
        "VALIDATION_ERROR",
        "Invalid request data",
        errors=[{"field": "name", "message": "Input should be a valid string"}],
    ),
    "Unauthorized": _error(
        "Missing or invalid credentials: `UNAUTHORIZED`.",
        "UNAUTHORIZED",
        "Invalid or missing authentication",
    ),
    "Forbidden": _error(
        "The credential is valid but may not do this (another kind of caller, a missing API "
        "key scope, or a role too low): `FORBIDDEN`.",
        "FORBIDDEN",
        "Customer accounts cannot use admin endpoints",
    ),
    "NotFound": _error(
        "Nothing by this id in the caller's workspace: `NOT_FOUND`. Another workspace's "
        "resource is answered the same way.",
        "NOT_FOUND",
        "Not found",
    ),
    "RateLimited": _error(
        "Too many requests from this caller: `RATE_LIMIT_EXCEEDED` (`RATE_LIMITED` on the "
        "stats API and the shop notifications, as their guide says). `X-RateLimit-Reset` says "
        "when the window starts again.",
        "RATE_LIMIT_EXCEEDED",
        "Too many requests, try again later",
    ),
}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/responses/{name}"}


def _document_errors(schema: dict[str, Any]) -> None:
    """Each operation's errors, from what it takes: inputs can be invalid (400), a credential
    refused (401, 403) or over its rate limit (429), a path can name nothing (404)."""
    schema["components"]["responses"] = _ERRORS
    for operations in schema["paths"].values():
        for operation in operations.values():
            responses = operation["responses"]
            parameters = operation.get("parameters", [])
            if parameters or "requestBody" in operation:
                responses.setdefault("400", _ref("ValidationError"))
            if operation.get("security"):
                responses.setdefault("401", _ref("Unauthorized"))
                responses.setdefault("403", _ref("Forbidden"))
                responses.setdefault("429", _ref("RateLimited"))
            if any(p["in"] == "path" for p in parameters):
                responses.setdefault("404", _ref("NotFound"))
            responses["default"] = _ref("Error")
            # Successes, then errors, then the catch-all, as readers expect.
            operation["responses"] = dict(
                sorted(responses.items(), key=lambda item: (item[0] == "default", item[0]))
            )


def install_openapi(app: FastAPI) -> None:
    """The spec with our additions, and ReDoc at `/redoc` (Swagger UI is fastapi-offline's)."""

    @app.get("/redoc", include_in_schema=False)
    async def redoc() -> HTMLResponse:
        page = get_redoc_html(
            openapi_url=app.openapi_url or "/openapi.json",
            title=f"{app.title} - ReDoc",
            redoc_js_url=f"{DOCS_ASSETS}/redoc.standalone.js",
            redoc_favicon_url=f"{DOCS_ASSETS}/favicon.png",
            with_google_fonts=False,
        )
        page.headers["Content-Security-Policy"] = _REDOC_POLICY
        return page

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            _document_errors(FastAPI.openapi(app))
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
