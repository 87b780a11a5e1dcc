"""A thin client for the WhatsApp Cloud API (providers.md §4), with one number's access token.

`Authorization: Bearer <token>`, JSON in and out, paths under the Graph API version
(`/v22.0/{phone_number_id}/messages`). Meta answers every refusal with its Graph error body
(`{"error": {"code", "message", "error_subcode", "error_data": {"details"}, "is_transient",
"fbtrace_id", …}}`), read into `GraphError`; what the code means (retry, window closed, token
refused) is said by its properties, what to do about it is the caller's. A request that got no
answer is `WhatsAppUnavailable`, which says whether the message may have gone out. The Graph
URL is a platform setting, not a tenant's: plain httpx.
"""

from __future__ import annotations

import functools
import ssl
from dataclasses import dataclass
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any
from urllib.parse import quote, urlsplit

import httpx

from backend.kit.network_errors import bad_status, service_at, unreachable
from backend.kit.payloads import obj

SETTING = "WHATSAPP_API_URL"
PHONE_NUMBER_FIELDS = "id,display_phone_number,verified_name,quality_rating,throughput"
TEMPLATE_FIELDS = "id,name,language,status,category,components,parameter_format"
TEMPLATES_PAGE = 100
# 100 pages of 100: far above what Meta lets one business account hold; a paging that keeps
# going past it is a loop, not a catalogue.
MAX_TEMPLATE_PAGES = 100

# Throughput (130429), pair rate (131056), maintenance (131057), app (4) and account (80007)
# rate limits, Meta's "temporarily unavailable" (2, 133004): the same request may pass later.
_RETRYABLE_CODES = frozenset({130429, 131056, 131057, 4, 80007, 2, 133004})
_WINDOW_CLOSED = 131047
# Auth exception (0), permission denied (10), expired or invalid token (190), and the API
# permission range 200-299: the token is no good for this number, retrying will not help.
_TOKEN_CODES = frozenset({0, 10, 190, *range(200, 300)})


class WhatsAppError(Exception):
    pass


class GraphError(WhatsAppError):
    """Meta refused the request: its Graph error, and the HTTP status it came with. `code` is
    None when the answer was not a Graph error body (a proxy's 502 page, say)."""

    def __init__(
        self,
        http_status: int,
        code: int | None,
        subcode: int | None,
        message: str,
        details: str | None = None,
        fbtrace_id: str | None = None,
        is_transient: bool = False,
        *,
        type: str | None = None,
        user_title: str | None = None,
        user_message: str | None = None,
    ) -> None:
        self.http_status = http_status
        self.code = code
        self.subcode = subcode
        self.message = message
        self.details = details
        self.fbtrace_id = fbtrace_id
        self.is_transient = is_transient
        self.type = type
        self.user_title = user_title
        self.user_message = user_message
        super().__init__(self.describe())

    @property
    def title(self) -> str:
        """Meta's message without its `(#code) ` prefix: "Re-engagement message"."""
        prefix = f"(#{self.code})"
        text = self.message.strip()
        return text[len(prefix) :].strip() if text.startswith(prefix) else text

    def describe(self) -> str:
        """One line for a person: `(#131047) Re-engagement message: <details>`."""
        text = self.message.strip() or f"HTTP {self.http_status}"
        if self.code is not None and not text.startswith("("):
            text = f"(#{self.code}) {text}"
        if self.details and self.details not in text:
            text = f"{text}: {self.details}"
        return text

    @property
    def retryable(self) -> bool:
        """The same request may succeed later (rate limits, Meta's own trouble)."""
        return (
            self.code in _RETRYABLE_CODES
            or self.http_status >= 500
            or self.http_status == 429
            or self.is_transient
        )

    @property
    def window_closed(self) -> bool:
        """131047: more than 24 hours since the contact last wrote; only a template may go."""
        return self.code == _WINDOW_CLOSED

    @property
    def token_refused(self) -> bool:
        """The access token is expired, revoked or lacks the permission for this number."""
        if self.code is None:
            return self.http_status in (401, 403)
        return self.code in _TOKEN_CODES

    @classmethod
    def from_response(cls, response: httpx.Response) -> GraphError:
        try:
            body = response.json()
        except ValueError:
            body = None
        error = body.get("error") if isinstance(body, dict) else None
        if not isinstance(error, dict):
            text = response.text.strip()[:300] if not body else None
            return cls(
                response.status_code,
                None,
                None,
                bad_status("The WhatsApp Cloud API", response.status_code, text or None),
            )
        data = error.get("error_data")
        details = data.get("details") if isinstance(data, dict) else data
        return cls(
            response.status_code,
            _int(error.get("code")),
            _int(error.get("error_subcode")),
            str(error.get("message") or f"HTTP {response.status_code}"),
            details=str(details) if details else None,
            fbtrace_id=_str(error.get("fbtrace_id")),
            is_transient=error.get("is_transient") is True,
            type=_str(error.get("type")),
            user_title=_str(error.get("error_user_title")),
            user_message=_str(error.get("error_user_msg")),
        )


class WhatsAppUnavailable(WhatsAppError):
    """The Graph API gave no usable answer. `sent` is False when the request certainly did not
    go out (the connection could not be opened), True when it may have: a send whose outcome is
    unknown, which must not be repeated blindly."""

    def __init__(self, message: str, sent: bool) -> None:
        self.message = message
        self.sent = sent
        super().__init__(message)

    @property
    def retryable(self) -> bool:
        """Trying again cannot send the message twice only when it certainly did not go out
        (`ProviderRetry` reads this: a send whose outcome is unknown is not retried blindly)."""
        return not self.sent


@dataclass(frozen=True)
class Sent:
    """What Meta answered a send: the message id (`wamid.…`) its status webhooks will carry,
    the recipient's WhatsApp id, and a template send's `message_status` (`accepted`, …)."""

    wamid: str
    wa_id: str | None
    message_status: str | None


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        return int(value)
    return None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _id(value: str) -> str:
    return quote(str(value), safe="")


@functools.cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every client: building one (loading the CA bundle) costs tens of
    milliseconds of CPU."""
    return httpx.create_ssl_context()


def _not_sent(exc: httpx.HTTPError) -> bool:
    # Only a connection that never opened (or never came from the pool, or an address httpx
    # cannot use) is certain to have carried nothing; after that, Meta may have the message
    # even without our seeing its answer.
    return isinstance(
        exc,
        httpx.ConnectError | httpx.ConnectTimeout | httpx.PoolTimeout | httpx.UnsupportedProtocol,
    )


def _transport() -> httpx.AsyncHTTPTransport:
    # httpx retries only a connection that could not be opened: nothing was sent, so a message
    # cannot go out twice. Nothing is retried once a request went out.
    return httpx.AsyncHTTPTransport(
        retries=2,
        verify=_tls(),
        limits=httpx.Limits(max_connections=100, max_keepalive_connections=20),
    )


class GraphClient:
    """One number's calls (its access token). Made by `GraphGateway.client`, it shares the
    process's connections; made on its own (`async with`), it has its own."""

    def __init__(
        self,
        access_token: str,
        *,
        base_url: str,
        version: str,
        timeout: float = 15,
        http: httpx.AsyncClient | None = None,
    ) -> None:
        self._base = base_url.rstrip("/")
        self._where = service_at("the WhatsApp Cloud API", base_url)
        version = version.strip("/")
        self._prefix = "/" + (version if version.startswith("v") else f"v{version}")
        self._headers = {"Authorization": f"Bearer {access_token}"}
        self._owned = http is None
        self._client = http or httpx.AsyncClient(
            base_url=self._base,
            headers={"Accept": "application/json"},
            timeout=timeout,
            transport=_transport(),
        )

    async def __aenter__(self) -> GraphClient:
        return self

    async def __aexit__(self, *_: object) -> None:
        if self._owned:
            await self._client.aclose()

    async def _request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            response = await self._client.request(
                method, url, json=json, params=params, headers=self._headers
            )
        except httpx.HTTPError as exc:
            raise WhatsAppUnavailable(
                unreachable(self._where, exc, setting=SETTING), sent=not _not_sent(exc)
            ) from exc
        if response.status_code >= 300:
            raise GraphError.from_response(response)
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            raise WhatsAppUnavailable(
                f"The WhatsApp Cloud API answered {method} {urlsplit(url).path} with something"
                f" that is not a JSON object. Check that {SETTING} is the Graph API's address.",
                sent=method != "GET",
            )
        return body

    async def send(self, phone_number_id: str, body: dict[str, Any]) -> Sent:
        """Send one message from `phone_number_id`. `body` is Meta's message (`to`, `type`,
        `<type>`, optional `context`, `biz_opaque_callback_data`) without `messaging_product`."""
        message = {"messaging_product": "whatsapp", "recipient_type": "individual", **body}
        answer = await self._request(
            "POST", f"{self._prefix}/{_id(phone_number_id)}/messages", json=message
        )
        messages = answer.get("messages")
        first = messages[0] if isinstance(messages, list) and messages else None
        wamid = first.get("id") if isinstance(first, dict) else None
        if not isinstance(wamid, str) or not wamid:
            # Accepted (200) yet no id: Meta may deliver it, and we cannot tell its statuses.
            raise WhatsAppUnavailable(
                "The WhatsApp Cloud API accepted the message but answered no message id",
                sent=True,
            )
        contacts = answer.get("contacts")
        contact = contacts[0] if isinstance(contacts, list) and contacts else None
        return Sent(
            wamid=wamid,
            wa_id=_str(contact.get("wa_id")) if isinstance(contact, dict) else None,
            message_status=_str(obj(first).get("message_status")),
        )

    async def phone_number(self, phone_number_id: str) -> dict[str, Any]:
        """The number's `id`, `display_phone_number`, `verified_name`, `quality_rating`
        (GREEN, YELLOW, RED, UNKNOWN) and `throughput` (`{"level": "STANDARD"}`)."""
        return await self._request(
            "GET",
            f"{self._prefix}/{_id(phone_number_id)}",
            params={"fields": PHONE_NUMBER_FIELDS},
        )

    async def templates(self, business_account_id: str) -> list[dict[str, Any]]:
        """Every message template of the business account (all statuses), page after page."""
        path = f"{self._prefix}/{_id(business_account_id)}/message_templates"
        params: dict[str, Any] | None = {"limit": TEMPLATES_PAGE, "fields": TEMPLATE_FIELDS}
        url, seen, found = path, set[str](), list[dict[str, Any]]()
        for _ in range(MAX_TEMPLATE_PAGES):
            page = await self._request("GET", url, params=params)
            data = page.get("data")
            if isinstance(data, list):
                found.extend(t for t in data if isinstance(t, dict))
            paging = obj(page.get("paging"))
            following = _str(paging.get("next"))
            if following is None or following in seen:
                return found
            seen.add(following)
            url, params = self._next_page(following, path, paging), None
        return found

    def _next_page(self, following: str, path: str, paging: dict[str, Any]) -> str:
        """`paging.next` when it is on our Graph host; else the same page from its cursor (our
        token goes nowhere but the configured Graph API)."""
        ours, theirs = urlsplit(self._base), urlsplit(following)
        if (theirs.scheme, theirs.netloc) == (ours.scheme, ours.netloc):
            return following
        cursors = obj(paging.get("cursors"))
        after = _str(cursors.get("after")) or ""
        return f"{path}?limit={TEMPLATES_PAGE}&fields={TEMPLATE_FIELDS}&after={quote(after)}"


class GraphGateway:
    """The process's connections to the Graph API, shared by every number's calls: a send
    reuses a kept-alive connection instead of opening one (and its TLS handshake) each time,
    which was most of a sender's CPU per message (bench/whatsapp.py)."""

    def __init__(self, *, base_url: str, version: str, timeout: float = 15) -> None:
        self._base_url = base_url
        self._version = version
        self._http = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Accept": "application/json"},
            # Shared by every tenant's calls: a cookie one call got must not go out with
            # another's token.
            cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
            timeout=timeout,
            transport=_transport(),
        )

    def client(self, access_token: str) -> GraphClient:
        """Calls with one number's access token, on the shared connections."""
        return GraphClient(
            access_token, base_url=self._base_url, version=self._version, http=self._http
        )

    async def aclose(self) -> None:
        await self._http.aclose()
