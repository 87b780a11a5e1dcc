"""A fake of Meta's Graph API for the WhatsApp Cloud API, in its wire format (providers.md §4),
and builders of the webhook bodies Meta posts.

- `POST /{version}/{phone_number_id}/messages` with `Authorization: Bearer <token>`: a token
  not given to that number in `add_number` is 401 (code 190, OAuthException), an unknown number
  400 (code 100, "Unsupported post request"), a body without `messaging_product`, `to`, `type` or
  the type's object 400 (code 100, "(#100) The parameter … is required"). Accepted:
  `{"messaging_product", "contacts": [{"input", "wa_id"}], "messages": [{"id": "wamid.…"}]}`
  (+ `"message_status": "accepted"` for a template). Every send received is in `fake.sent`
  (`number`, `token`, `body`, `at` (monotonic), `status` (HTTP), `wamid` or `code`).
- `GET /{version}/{phone_number_id}?fields=…`; `GET /{version}/{waba_id}/message_templates`
  with cursor paging (`limit`, `after`; `paging.cursors`, and `paging.next` as an absolute URL
  on the fake while more pages follow) over `add_template(…)`.
- Failures: `fail_next(n, code=131047)` answers Meta's error body for that code (HTTP 400, or
  `http_status=`; `**extra` overrides fields of the error object, e.g. `is_transient=True`);
  `fail_next(n, status=500)` a plain 5xx with no Graph body (a proxy's); `fail_number(wa_id,
  code)` fails every send to that recipient; `max_per_second` caps accepted sends per number
  over a sliding second (130429 beyond); `delay` holds every answer that long.

The fake runs on a real port (`with FakeGraph() as fake: fake.url`) in a server thread, so its
state is guarded by a lock. Webhook builders follow the payloads pywa's tests recorded from
Meta: string timestamps, `metadata`, `contacts[].profile.name`.
"""

from __future__ import annotations

import asyncio
import base64
import copy
import hashlib
import hmac
import json
import os
import secrets
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from tests.fakes.base import ProviderFake

VERSION = "v22.0"
PHONE_NUMBER_ID = "106540352242922"
DISPLAY_PHONE_NUMBER = "15550783881"
BUSINESS_ACCOUNT_ID = "102290129340398"
ACCESS_TOKEN = "EAAG" + "x" * 8 + "fake-whatsapp-token"
APP_SECRET = "6f1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e"
WA_ID = "919876543210"
PROFILE_NAME = "Asha"

# Meta's messages and details for the codes the tests inject (pywa/errors.py, Meta's error
# code reference): (message, details, error_subcode, HTTP status).
ERRORS: dict[int, tuple[str, str, int | None, int]] = {
    0: ("(#0) AuthException", "We were unable to authenticate the app user.", None, 401),
    4: (
        "(#4) Application request limit reached",
        "The app reached its API call rate limit.",
        None,
        400,
    ),
    10: (
        "(#10) Application does not have permission for this action",
        "Permission is not granted or was removed.",
        None,
        403,
    ),
    100: ("(#100) Invalid parameter", "Invalid parameter", None, 400),
    190: (
        "Error validating access token: Session has expired.",
        "The access token has expired.",
        463,
        401,
    ),
    80007: (
        "(#80007) Rate limit issues",
        "The WhatsApp Business Account reached its rate limit.",
        None,
        400,
    ),
    130429: (
        "(#130429) Rate limit hit",
        "Cloud API message throughput has been reached.",
        None,
        400,
    ),
    131026: (
        "(#131026) Message undeliverable",
        "Unable to deliver message. Reasons can include: the recipient phone number is not a"
        " WhatsApp phone number.",
        None,
        400,
    ),
    131030: (
        "(#131030) Recipient phone number not in allowed list",
        "Add the recipient phone number to the allowed list.",
        None,
        400,
    ),
    131047: (
        "(#131047) Re-engagement message",
        "Message failed to send because more than 24 hours have passed since the customer last"
        " replied to this number.",
        2494010,
        400,
    ),
    131048: (
        "(#131048) Spam rate limit hit",
        "Message failed to send because there are restrictions on how many messages can be sent from this phone number.",
        None,
        400,
    ),
    131056: (
        "(#131056) (Business Account, Consumer Account) pair rate limit hit",
        "Message failed to send because there were too many messages sent from this phone"
        " number to the same phone number in a short period of time.",
        None,
        400,
    ),
    131057: (
        "(#131057) Account in maintenance mode",
        "Business Account is in maintenance mode.",
        None,
        400,
    ),
    132001: (
        "(#132001) Template name does not exist in the translation",
        "template name does not exist in the language",
        None,
        400,
    ),
}

MEDIA = ("image", "video", "document", "audio", "sticker")


def now_timestamp() -> str:
    return str(int(time.time()))


def new_wamid() -> str:
    # The shape of Meta's ids: "wamid." and base64 of an opaque key.
    return "wamid." + base64.b64encode(b"\x15\x02\x00\x11\x18" + os.urandom(22)).decode()


def error_body(code: int, message: str | None = None, **extra: Any) -> dict[str, Any]:
    """Meta's Graph error body for `code` (`extra` sets or overrides fields of `error`)."""
    known_message, details, subcode, _ = ERRORS.get(code, (f"(#{code}) Error", "", None, 400))
    error: dict[str, Any] = {
        "message": message or known_message,
        "type": "OAuthException",
        "code": code,
        "error_data": {"messaging_product": "whatsapp", "details": details or known_message},
        "fbtrace_id": "A" + secrets.token_urlsafe(16),
    }
    if subcode is not None:
        error["error_subcode"] = subcode
    error.update(extra)
    return {"error": error}


def _graph_error(code: int, http_status: int | None = None, **extra: Any) -> JSONResponse:
    status = http_status or ERRORS.get(code, ("", "", None, 400))[3]
    return JSONResponse(error_body(code, **extra), status_code=status)


def _unsupported(method: str, object_id: str) -> JSONResponse:
    return JSONResponse(
        error_body(
            100,
            f"Unsupported {method} request. Object with ID '{object_id}' does not exist, cannot be"
            " loaded due to missing permissions, or does not support this operation. Please read"
            " the Graph API documentation at https://developers.facebook.com/docs/graph-api",
            type="GraphMethodException",
            error_subcode=33,
        ),
        status_code=400,
    )


def _missing(parameter: str) -> JSONResponse:
    return _graph_error(
        100,
        message=f"(#100) The parameter {parameter} is required.",
        error_data={"messaging_product": "whatsapp", "details": f"{parameter} is required"},
    )


def _invalid(details: str) -> JSONResponse:
    return _graph_error(100, error_data={"messaging_product": "whatsapp", "details": details})


@dataclass
class _Number:
    tokens: set[str]
    display_phone_number: str
    verified_name: str
    quality_rating: str
    business_account_id: str | None
    throughput: str = "STANDARD"
    accepted: deque[float] = field(default_factory=deque)


@dataclass
class _Failure:
    http_status: int
    code: int | None
    extra: dict[str, Any]


def _cursor(index: int) -> str:
    return base64.urlsafe_b64encode(str(index).encode()).decode()


def _body_problem(body: Any) -> JSONResponse | None:
    """Meta's refusal of a malformed send body, loosely (the checks our code could get wrong)."""
    if not isinstance(body, dict):
        return _invalid("The request body must be a JSON object")
    if body.get("messaging_product") != "whatsapp":
        return _missing("messaging_product")
    to = body.get("to") or body.get("recipient")
    if not isinstance(to, str) or not to.strip():
        return _missing("to")
    digits = to.strip().removeprefix("+")
    if "to" in body and not (digits.isdigit() and 6 <= len(digits) <= 15):
        return _invalid(f"Invalid recipient phone number: {to}")
    kind = body.get("type", "text")
    if not isinstance(kind, str) or not isinstance(body.get(kind), dict):
        return _missing(f"{kind}" if isinstance(kind, str) else "type")
    part = body[kind]
    if kind == "text":
        text = part.get("body")
        if not isinstance(text, str) or not text.strip():
            return _missing("text['body']")
        if len(text) > 4096:
            return _invalid("Param text['body'] must be at most 4096 characters long.")
    elif kind == "template":
        if not isinstance(part.get("name"), str) or not part["name"]:
            return _missing("template['name']")
        language = part.get("language")
        if not isinstance(language, dict) or not isinstance(language.get("code"), str):
            return _missing("template['language']['code']")
    elif kind in MEDIA and ("link" in part) == ("id" in part):
        return _invalid(f"Param {kind} must have exactly one of 'link' or 'id'")
    elif kind == "interactive" and not (
        isinstance(part.get("type"), str) and isinstance(part.get("action"), dict)
    ):
        return _missing("interactive['action']")
    return None


class FakeGraph(ProviderFake):
    def __init__(self, version: str = VERSION) -> None:
        self.version = version
        self.numbers: dict[str, _Number] = {}
        self.templates: dict[str, list[dict[str, Any]]] = {}  # waba id -> definitions
        self.sent: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str, dict[str, str]]] = []  # method, path, query
        self.delay = 0.0
        self.max_per_second: float | None = None
        self._graph_failures: list[_Failure] = []
        self._failing_recipients: dict[str, tuple[int, dict[str, Any]]] = {}
        super().__init__(
            routes=[
                Route("/{version}/{phone_number_id}/messages", self._send, methods=["POST"]),
                Route("/{version}/{waba_id}/message_templates", self._templates, methods=["GET"]),
                Route("/{version}/{object_id}", self._object, methods=["GET"]),
            ]
        )

    # -- test controls ------------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self.numbers.clear()
            self.templates.clear()
            self.sent.clear()
            self.requests.clear()
            self._graph_failures.clear()
            self._failing_recipients.clear()
            self.delay = 0.0
            self.max_per_second = None
        super().reset()

    def add_number(
        self,
        phone_number_id: str = PHONE_NUMBER_ID,
        token: str = ACCESS_TOKEN,
        *,
        display_phone_number: str = "+1 555-078-3881",
        verified_name: str = "CHICX",
        quality_rating: str = "GREEN",
        business_account_id: str | None = BUSINESS_ACCOUNT_ID,
    ) -> str:
        """A business phone number the token may send from (call again for more tokens)."""
        with self._lock:
            number = self.numbers.get(phone_number_id)
            if number is None:
                self.numbers[phone_number_id] = _Number(
                    {token},
                    display_phone_number,
                    verified_name,
                    quality_rating,
                    business_account_id,
                )
            else:
                number.tokens.add(token)
        return phone_number_id

    def add_template(
        self,
        waba_id: str = BUSINESS_ACCOUNT_ID,
        name: str = "order_update",
        language: str = "en_US",
        category: str = "UTILITY",
        status: str = "APPROVED",
        components: list[dict[str, Any]] | None = None,
        **fields: Any,
    ) -> dict[str, Any]:
        template = {
            "name": name,
            "parameter_format": "POSITIONAL",
            "components": components
            if components is not None
            else [{"type": "BODY", "text": "Hi {{1}}, your order {{2}} is on its way."}],
            "language": language,
            "status": status,
            "category": category,
            "id": str(10**15 + secrets.randbelow(10**15)),
            **fields,
        }
        with self._lock:
            self.templates.setdefault(waba_id, []).append(template)
        return copy.deepcopy(template)

    def fail_next(
        self,
        n: int = 1,
        status: int | None = None,
        *,
        code: int | None = None,
        http_status: int | None = None,
        **extra: Any,
    ) -> None:
        """The next `n` requests fail: with Meta's error body for `code` (HTTP `http_status`,
        400 unless the code has its own), or, without a code, a plain `status` (500)."""
        with self._lock:
            for _ in range(n):
                if code is None:
                    self._graph_failures.append(_Failure(status or 500, None, {}))
                else:
                    default = ERRORS.get(code, ("", "", None, 400))[3]
                    self._graph_failures.append(_Failure(http_status or default, code, extra))

    def fail_number(self, recipient: str, code: int, **extra: Any) -> None:
        """Every send to `recipient` (as given in `to`, `+` or not) fails with `code`."""
        with self._lock:
            self._failing_recipients[recipient.removeprefix("+")] = (code, extra)

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """The sends Meta accepted (answered with a wamid), in order."""
        with self._lock:
            return [copy.deepcopy(s) for s in self.sent if s.get("wamid")]

    def bodies(self, to: str | None = None) -> list[dict[str, Any]]:
        """The accepted send bodies (to one recipient when given)."""
        return [s["body"] for s in self.accepted if to is None or s["body"].get("to") == to]

    # -- the API ------------------------------------------------------------------------------

    def _token(self, request: Request) -> str:
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return token.strip() if scheme.lower() == "bearer" else ""

    async def _begin(self, request: Request) -> Response | None:
        with self._lock:
            self.requests.append((request.method, request.url.path, dict(request.query_params)))
            failure = self._graph_failures.pop(0) if self._graph_failures else None
            plain = self._take_failure()  # the base class's fail_next, if called directly
        if self.delay:
            await asyncio.sleep(self.delay)
        if failure is not None and failure.code is not None:
            return _graph_error(failure.code, failure.http_status, **failure.extra)
        status = failure.http_status if failure is not None else plain
        if status is not None:
            return PlainTextResponse("Service Unavailable (fake)", status_code=status)
        if request.path_params["version"] != self.version:
            return _graph_error(
                2635, 400, message=f"(#2635) Unsupported version {request.path_params['version']}"
            )
        return None

    def _known_token(self, token: str, number: _Number | None = None) -> bool:
        if number is not None:
            return token in number.tokens
        return any(token in n.tokens for n in self.numbers.values())

    async def _send(self, request: Request) -> Response:
        phone_number_id = request.path_params["phone_number_id"]
        token = self._token(request)
        raw = await request.body()
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = None
        record: dict[str, Any] = {
            "number": phone_number_id,
            "token": token,
            "body": body,
            "at": time.monotonic(),
        }
        answer = await self._begin(request)
        if answer is None:
            answer = self._accept(phone_number_id, token, body, record)
        record["status"] = answer.status_code
        if answer.status_code >= 300:
            try:
                record["code"] = json.loads(bytes(answer.body))["error"]["code"]
            except (ValueError, KeyError, TypeError):
                record["code"] = None
        with self._lock:
            self.sent.append(record)
        return answer

    def _accept(
        self, phone_number_id: str, token: str, body: Any, record: dict[str, Any]
    ) -> Response:
        with self._lock:
            number = self.numbers.get(phone_number_id)
            if number is not None and not self._known_token(token, number):
                return _graph_error(
                    190, message="Invalid OAuth access token - Cannot parse access token"
                )
            if number is None:
                if not self._known_token(token):
                    return _graph_error(
                        190, message="Invalid OAuth access token - Cannot parse access token"
                    )
                return _unsupported("post", phone_number_id)
            problem = _body_problem(body)
            if problem is not None:
                return problem
            to = str(body.get("to") or body.get("recipient")).strip()
            failing = self._failing_recipients.get(to.removeprefix("+"))
            if failing is not None:
                return _graph_error(failing[0], **failing[1])
            if self.max_per_second is not None:
                now, window = time.monotonic(), number.accepted
                while window and window[0] <= now - 1.0:
                    window.popleft()
                if len(window) >= self.max_per_second:
                    return _graph_error(130429)
                window.append(now)
            wamid = new_wamid()
            record["wamid"] = wamid
        message: dict[str, Any] = {"id": wamid}
        if body.get("type") == "template":
            message["message_status"] = "accepted"
        return JSONResponse(
            {
                "messaging_product": "whatsapp",
                "contacts": [{"input": to, "wa_id": to.removeprefix("+")}],
                "messages": [message],
            }
        )

    async def _object(self, request: Request) -> Response:
        failed = await self._begin(request)
        if failed is not None:
            return failed
        object_id, token = request.path_params["object_id"], self._token(request)
        with self._lock:
            number = self.numbers.get(object_id)
            if not self._known_token(token, number):
                return _graph_error(
                    190, message="Invalid OAuth access token - Cannot parse access token"
                )
            if number is None:
                return _unsupported("get", object_id)
            full = {
                "id": object_id,
                "display_phone_number": number.display_phone_number,
                "verified_name": number.verified_name,
                "quality_rating": number.quality_rating,
                "throughput": {"level": number.throughput},
                "code_verification_status": "VERIFIED",
                "platform_type": "CLOUD_API",
            }
        wanted = [f for f in request.query_params.get("fields", "").split(",") if f]
        shown = {k: v for k, v in full.items() if k in wanted} if wanted else full
        return JSONResponse({**shown, "id": object_id})

    async def _templates(self, request: Request) -> Response:
        failed = await self._begin(request)
        if failed is not None:
            return failed
        waba_id, token = request.path_params["waba_id"], self._token(request)
        with self._lock:
            tokens = {
                t
                for n in self.numbers.values()
                if n.business_account_id in (waba_id, None)
                for t in n.tokens
            }
            if token not in tokens:
                return _graph_error(
                    190, message="Invalid OAuth access token - Cannot parse access token"
                )
            if waba_id not in self.templates and not any(
                n.business_account_id == waba_id for n in self.numbers.values()
            ):
                return _unsupported("get", waba_id)
            every = copy.deepcopy(self.templates.get(waba_id, []))
        query = request.query_params
        try:
            limit = max(1, min(int(query.get("limit", "25")), 1000))
            start = (
                int(base64.urlsafe_b64decode(query["after"]).decode()) if "after" in query else 0
            )
        except (ValueError, UnicodeDecodeError):
            return _invalid("Invalid paging parameters")
        page = every[start : start + limit]
        fields = [f for f in query.get("fields", "").split(",") if f]
        if fields:
            page = [{k: v for k, v in t.items() if k in fields or k == "id"} for t in page]
        body: dict[str, Any] = {"data": page}
        if page:
            body["paging"] = {
                "cursors": {"before": _cursor(start), "after": _cursor(start + len(page))}
            }
            if start + len(page) < len(every):
                following = {k: v for k, v in query.items() if k != "after"}
                following["after"] = _cursor(start + len(page))
                body["paging"]["next"] = f"{self.url}{request.url.path}?{urlencode(following)}"
        return JSONResponse(body)


# -- webhook bodies Meta posts ----------------------------------------------------------------


def sign(body: bytes, app_secret: str = APP_SECRET) -> str:
    """The `X-Hub-Signature-256` header value Meta sends with `body`."""
    return "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()


def entry(changes: list[dict[str, Any]], waba_id: str = BUSINESS_ACCOUNT_ID) -> dict[str, Any]:
    return {"id": waba_id, "changes": changes}


def webhook_body(
    changes: list[dict[str, Any]] | None = None,
    *,
    entries: list[dict[str, Any]] | None = None,
    waba_id: str = BUSINESS_ACCOUNT_ID,
) -> dict[str, Any]:
    """The envelope: one entry of `changes`, or the `entries` given (see `entry`)."""
    return {
        "object": "whatsapp_business_account",
        "entry": entries if entries is not None else [entry(changes or [], waba_id)],
    }


def encode(body: dict[str, Any]) -> bytes:
    """A body as Meta sends it (compact JSON; the signature is over these exact bytes)."""
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def _value(phone_number_id: str, display: str, **fields: Any) -> dict[str, Any]:
    return {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": display, "phone_number_id": phone_number_id},
        **fields,
    }


def message_change(
    phone_number_id: str = PHONE_NUMBER_ID,
    display: str = DISPLAY_PHONE_NUMBER,
    wa_id: str = WA_ID,
    name: str | None = PROFILE_NAME,
    messages: list[dict[str, Any]] | None = None,
    *,
    errors: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A `messages` change with inbound messages from one contact."""
    value = _value(
        phone_number_id,
        display,
        contacts=[{"profile": {"name": name} if name is not None else {}, "wa_id": wa_id}],
        messages=messages or [],
    )
    if errors is not None:
        value["errors"] = errors
    return {"value": value, "field": "messages"}


def status_change(
    phone_number_id: str = PHONE_NUMBER_ID,
    statuses: list[dict[str, Any]] | None = None,
    display: str = DISPLAY_PHONE_NUMBER,
) -> dict[str, Any]:
    return {"value": _value(phone_number_id, display, statuses=statuses or []), "field": "messages"}


def errors_change(
    phone_number_id: str = PHONE_NUMBER_ID,
    errors: list[dict[str, Any]] | None = None,
    display: str = DISPLAY_PHONE_NUMBER,
) -> dict[str, Any]:
    """System-level errors (`value.errors`, no messages or statuses)."""
    return {
        "value": _value(phone_number_id, display, errors=errors or [error(130429)]),
        "field": "messages",
    }


def error(code: int, title: str | None = None, details: str | None = None) -> dict[str, Any]:
    """An error as webhooks carry it (in a failed status, or `value.errors`)."""
    known_message, known_details, _, _ = ERRORS.get(code, (f"(#{code}) Error", "", None, 400))
    title = title or known_message.split(") ", 1)[-1]
    return {
        "code": code,
        "title": title,
        "message": title,
        "error_data": {"details": details or known_details or title},
        "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
    }


def status(
    wamid: str,
    status: str = "delivered",
    recipient: str = WA_ID,
    *,
    errors: list[dict[str, Any]] | None = None,
    biz_opaque_callback_data: str | None = None,
    timestamp: str | None = None,
    category: str = "service",
) -> dict[str, Any]:
    """One status of a sent message. A failed one carries `errors` (no conversation or
    pricing), the others a conversation and pricing."""
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": timestamp or now_timestamp(),
        "recipient_id": recipient,
    }
    if biz_opaque_callback_data is not None:
        item["biz_opaque_callback_data"] = biz_opaque_callback_data
    if status == "failed":
        item["errors"] = errors if errors is not None else [error(131026)]
        return item
    if errors is not None:
        item["errors"] = errors
    conversation: dict[str, Any] = {
        "id": hashlib.md5(recipient.encode()).hexdigest()[:30],
        "origin": {"type": category},
    }
    if status == "sent":
        conversation["expiration_timestamp"] = str(int(time.time()) + 86_400)
    item["conversation"] = conversation
    item["pricing"] = {"billable": True, "pricing_model": "CBP", "category": category}
    return item


def inbound(
    wa_id: str,
    kind: str,
    payload: dict[str, Any] | list[Any] | None,
    *,
    wamid: str | None = None,
    timestamp: str | None = None,
    context: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """An inbound message of any `kind` (`payload` is its `<kind>` object)."""
    message: dict[str, Any] = {
        "from": wa_id,
        "id": wamid or new_wamid(),
        "timestamp": timestamp or now_timestamp(),
        "type": kind,
    }
    if context is not None:
        message["context"] = context
    if payload is not None:
        message[kind] = payload
    message.update(extra)
    return message


def text_message(
    wa_id: str = WA_ID,
    body: str = "Hi",
    wamid: str | None = None,
    timestamp: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return inbound(wa_id, "text", {"body": body}, wamid=wamid, timestamp=timestamp, **extra)


def media_message(
    kind: str,
    wa_id: str = WA_ID,
    *,
    media_id: str = "1234567890987654321",
    mime_type: str | None = None,
    caption: str | None = None,
    filename: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """image, video, document, audio or sticker: a media reference (`id`), never the bytes."""
    mime = (
        mime_type
        or {
            "image": "image/jpeg",
            "video": "video/mp4",
            "document": "application/pdf",
            "audio": "audio/ogg; codecs=opus",
            "sticker": "image/webp",
        }[kind]
    )
    media: dict[str, Any] = {
        "mime_type": mime,
        "sha256": base64.b64encode(hashlib.sha256(media_id.encode()).digest()).decode(),
        "id": media_id,
    }
    if caption is not None:
        media["caption"] = caption
    if filename is not None:
        media["filename"] = filename
    if kind == "audio":
        media["voice"] = extra.pop("voice", False)
    if kind == "sticker":
        media["animated"] = extra.pop("animated", False)
    return inbound(wa_id, kind, media, **extra)


def image_message(wa_id: str = WA_ID, caption: str | None = None, **extra: Any) -> dict[str, Any]:
    return media_message("image", wa_id, caption=caption, **extra)


def document_message(
    wa_id: str = WA_ID,
    filename: str = "invoice.pdf",
    caption: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    return media_message("document", wa_id, filename=filename, caption=caption, **extra)


def audio_message(wa_id: str = WA_ID, voice: bool = True, **extra: Any) -> dict[str, Any]:
    return media_message("audio", wa_id, voice=voice, **extra)


def video_message(wa_id: str = WA_ID, caption: str | None = None, **extra: Any) -> dict[str, Any]:
    return media_message("video", wa_id, caption=caption, **extra)


def sticker_message(wa_id: str = WA_ID, animated: bool = False, **extra: Any) -> dict[str, Any]:
    return media_message("sticker", wa_id, animated=animated, **extra)


def button_message(
    wa_id: str = WA_ID,
    text: str = "Track Order",
    payload: str = "TRACK_ORDER",
    context_id: str | None = "wamid.template",
    **extra: Any,
) -> dict[str, Any]:
    """A template's quick-reply button pressed."""
    context = {"from": DISPLAY_PHONE_NUMBER, "id": context_id} if context_id else None
    return inbound(wa_id, "button", {"payload": payload, "text": text}, context=context, **extra)


def button_reply(
    wa_id: str = WA_ID,
    reply_id: str = "yes",
    title: str = "Yes",
    context_id: str = "wamid.question",
    **extra: Any,
) -> dict[str, Any]:
    """An interactive reply button pressed."""
    return inbound(
        wa_id,
        "interactive",
        {"type": "button_reply", "button_reply": {"id": reply_id, "title": title}},
        context={"from": PHONE_NUMBER_ID, "id": context_id},
        **extra,
    )


def list_reply(
    wa_id: str = WA_ID,
    reply_id: str = "r1",
    title: str = "Sarees",
    description: str | None = None,
    context_id: str = "wamid.menu",
    **extra: Any,
) -> dict[str, Any]:
    """A row of an interactive list chosen."""
    reply = {"id": reply_id, "title": title}
    if description is not None:
        reply["description"] = description
    return inbound(
        wa_id,
        "interactive",
        {"type": "list_reply", "list_reply": reply},
        context={"from": PHONE_NUMBER_ID, "id": context_id},
        **extra,
    )


def location_message(
    wa_id: str = WA_ID,
    latitude: float = 37.4611978,
    longitude: float = -122.2164385,
    name: str | None = None,
    address: str | None = None,
    **extra: Any,
) -> dict[str, Any]:
    location: dict[str, Any] = {"latitude": latitude, "longitude": longitude}
    if name is not None:
        location["name"] = name
    if address is not None:
        location["address"] = address
        location["url"] = "https://maps.google.com/?cid=2000000000000000000"
    return inbound(wa_id, "location", location, **extra)


def contacts_message(
    wa_id: str = WA_ID, contacts: list[dict[str, Any]] | None = None, **extra: Any
) -> dict[str, Any]:
    shared = contacts or [
        {
            "name": {
                "first_name": "Chandler",
                "last_name": "Bing",
                "formatted_name": "Chandler Bing",
            },
            "phones": [{"phone": "+1 555-555-5555", "wa_id": "15555555555", "type": "CELL"}],
        }
    ]
    return inbound(wa_id, "contacts", shared, **extra)


def reaction_message(
    wa_id: str = WA_ID, message_id: str = "wamid.reacted", emoji: str | None = "👍", **extra: Any
) -> dict[str, Any]:
    """A reaction to one of our messages (`emoji` None or "" removes it)."""
    reaction: dict[str, Any] = {"message_id": message_id}
    if emoji is not None:
        reaction["emoji"] = emoji
    return inbound(wa_id, "reaction", reaction, **extra)


def order_message(
    wa_id: str = WA_ID,
    catalog_id: str = "354160437058781",
    items: list[dict[str, Any]] | None = None,
    text: str = "",
    **extra: Any,
) -> dict[str, Any]:
    product_items = items or [
        {"product_retailer_id": "SAREE-RED", "quantity": 2, "item_price": 1499, "currency": "INR"},
        {"product_retailer_id": "KURTA-BLUE", "quantity": 1, "item_price": 899, "currency": "INR"},
    ]
    order = {"catalog_id": catalog_id, "text": text, "product_items": product_items}
    return inbound(wa_id, "order", order, **extra)


def system_message(
    wa_id: str = WA_ID,
    body: str | None = None,
    new_wa_id: str = "919812345678",
    system_type: str = "user_changed_number",
    **extra: Any,
) -> dict[str, Any]:
    system = {
        "body": body or f"User A changed from {wa_id} to {new_wa_id}",
        "wa_id": new_wa_id,
        "type": system_type,
    }
    return inbound(wa_id, "system", system, **extra)


def unsupported_message(wa_id: str = WA_ID, **extra: Any) -> dict[str, Any]:
    """A type Meta does not pass on (a poll, say), with its 131051 error."""
    errors = [
        {
            "code": 131051,
            "title": "Message type unknown",
            "message": "Message type unknown",
            "error_data": {"details": "Message type is currently not supported."},
        }
    ]
    return inbound(wa_id, "unsupported", {"type": "poll"}, errors=errors, **extra)
