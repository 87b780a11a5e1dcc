"""E-mail notifications: what may be sent, to whom, and how it is recorded.

Every e-mail is a row of `emails`, written with the job that delivers it in one transaction: the
e-mail is sent if and only if its row was committed. Rows are written under the workspace's
backend claims (no member may write them; see the migration). An admin's HTML is sent as given;
a visitor's words reach the workspace only escaped."""

from __future__ import annotations

import asyncio
import re
from html import escape
from typing import Any
from urllib.parse import quote
from uuid import UUID

import lxml.html
import structlog
from lxml import etree

from backend.auth.subjects import ApiKey, AuthSubject, User
from backend.context import AppContext
from backend.db import Connection
from backend.errors import Conflict, NotFound, RateLimited
from backend.notifications import repository, tasks
from backend.notifications.schemas import ContactIn, EmailSend
from backend.tasks import enqueue

log = structlog.get_logger(__name__)

# Beyond the per-caller request limits: what one workspace may send in an hour, and what the
# contact form of one bot may deliver to its workspace (a flood of visitors must neither fill
# the workspace's inbox nor use up the platform's sending quota).
NOTIFICATIONS_PER_WORKSPACE = "1000/hour"
CONTACTS_PER_CHATBOT = "100/hour"

_BLOCK_TAGS = ("p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table")
_SPACES = re.compile(r"[ \t\r\f\v\u00a0]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")


class EmailNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("E-mail not found")


class IdempotencyKeyReused(Conflict):
    def __init__(self) -> None:
        super().__init__(
            "This Idempotency-Key was used for a different e-mail",
            errors=[{"field": "Idempotency-Key", "message": "already used for another e-mail"}],
        )


def plain_text(html: str) -> str:
    """A readable plain-text part for an HTML e-mail (mail clients and spam filters prefer
    messages that have one): the visible text, block by block, with each link's address."""
    try:
        root = lxml.html.document_fromstring(
            html.encode(), parser=lxml.html.HTMLParser(encoding="utf-8")
        )
    except (etree.ParserError, ValueError):
        return ""
    for hidden in root.xpath(".//script | .//style | .//head | .//template"):
        hidden.drop_tree()
    for link in root.iter("a"):
        href = (link.get("href") or "").strip()
        if href.startswith(("http://", "https://")) and href != link.text_content().strip():
            link.tail = f" ({href}){link.tail or ''}"
    for block in root.iter(*_BLOCK_TAGS):
        block.tail = f"\n{block.tail or ''}"
        if block.tag != "br":
            block.text = f"\n{block.text or ''}"
    lines = (_SPACES.sub(" ", line).strip() for line in root.text_content().split("\n"))
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


async def _limit(context: AppContext, rule: str, key: str, message: str) -> None:
    state = await context.rate_limiter.hit(rule, key)
    if not state.allowed:
        raise RateLimited(message)


def _actor(subject: AuthSubject[User | ApiKey]) -> tuple[str, dict[str, Any]]:
    """The claims' principal name, and the columns that say who asked."""
    principal = subject.principal
    if isinstance(principal, ApiKey):
        return f"api_key:{principal.id}", {"api_key_id": principal.id}
    return f"user:{principal.id}", {"created_by": principal.id}


def _same_email(row: dict[str, Any], data: EmailSend) -> bool:
    return (row["to_email"], row["subject"], row["html"], row["from_name"]) == (
        str(data.to_email),
        data.subject,
        data.html_content,
        data.from_name,
    )


async def send(
    context: AppContext,
    subject: AuthSubject[User | ApiKey],
    data: EmailSend,
    *,
    idempotency_key: str | None,
) -> tuple[dict[str, Any], bool]:
    """Queue an admin's or an integration's e-mail; the row, and whether it was an earlier
    request's (same `Idempotency-Key`: nothing new is sent)."""
    principal, who = _actor(subject)
    # Off the event loop: up to 200 KB of HTML takes lxml some milliseconds.
    text = await asyncio.to_thread(plain_text, data.html_content)
    async with context.db.for_workspace(subject.workspace_id, principal) as conn:
        if idempotency_key is not None:
            earlier = await repository.by_idempotency_key(
                conn, subject.workspace_id, idempotency_key
            )
            if earlier is not None:
                return _replayed(earlier, data)
        await _limit(
            context,
            NOTIFICATIONS_PER_WORKSPACE,
            f"emails:{subject.workspace_id}",
            "This workspace has sent too many e-mails this hour",
        )
        row = await repository.insert(
            conn,
            {
                "workspace_id": subject.workspace_id,
                "kind": "notification",
                "to_email": str(data.to_email),
                "from_name": data.from_name,
                "subject": data.subject,
                "html": data.html_content,
                "text": text or data.subject,
                "idempotency_key": idempotency_key,
                **who,
            },
        )
        if row is None:  # the same key, committed meanwhile by a concurrent request
            assert idempotency_key is not None
            earlier = await repository.by_idempotency_key(
                conn, subject.workspace_id, idempotency_key
            )
            assert earlier is not None
            return _replayed(earlier, data)
        await enqueue(conn, tasks.send_email, email_id=str(row["id"]))
    log.info(
        "email_queued",
        email_id=str(row["id"]),
        workspace_id=str(subject.workspace_id),
        by=principal,
    )
    return row, False


def _replayed(earlier: dict[str, Any], data: EmailSend) -> tuple[dict[str, Any], bool]:
    if earlier["kind"] != "notification" or not _same_email(earlier, data):
        raise IdempotencyKeyReused()
    return earlier, True


def contact_email(bot_name: str, data: ContactIn, page: str | None) -> dict[str, str]:
    """The subject, HTML and text of a contact-form message. Every word of the visitor's is
    escaped (and their address percent-encoded in the `mailto:` link, so that it cannot add
    recipients or headers to a reply)."""
    subject = f"Contact form: {data.subject}" if data.subject else f"New message from {data.name}"
    message = data.message.replace("\r\n", "\n").replace("\r", "\n")
    rows = [("Name", escape(data.name))]
    address = str(data.email)
    rows.append(
        ("E-mail", f'<a href="mailto:{escape(quote(address, safe="@"))}">{escape(address)}</a>')
    )
    if data.phone:
        rows.append(("Phone", escape(data.phone)))
    if page:
        rows.append(("Page", escape(page)))
    table = "".join(
        f'<tr><td style="padding:2px 12px 2px 0;color:#666">{label}</td><td>{value}</td></tr>'
        for label, value in rows
    )
    html = (
        f"<p>A visitor wrote through the contact form of <strong>{escape(bot_name)}</strong>."
        f"</p><table>{table}</table>"
        f'<p style="white-space:pre-wrap">{escape(message).replace(chr(10), "<br>" + chr(10))}'
        "</p>"
    )
    details = [f"Name: {data.name}", f"E-mail: {address}"]
    if data.phone:
        details.append(f"Phone: {data.phone}")
    if page:
        details.append(f"Page: {page}")
    text = (
        f"A visitor wrote through the contact form of {bot_name}.\n\n"
        + "\n".join(details)
        + f"\n\n{message}"
    )
    return {"subject": subject, "html": html, "text": text}


async def contact(
    context: AppContext, bot: dict[str, Any], data: ContactIn, *, page: str | None
) -> dict[str, Any]:
    """Queue a contact-form message to the workspace of `bot` (an active bot this page may
    use), at its business e-mail or, without one, its owner's."""
    workspace_id: UUID = bot["workspace_id"]
    await _limit(
        context,
        CONTACTS_PER_CHATBOT,
        f"contact:{bot['id']}",
        "This contact form has had too many messages, try again later",
    )
    async with context.db.system() as conn:
        target = await repository.contact_target(conn, bot["id"])
    if target is None or target["email"] is None:
        raise NotFound("This chatbot's workspace takes no messages")
    to_email = target["email"]
    content = contact_email(target["chatbot_name"], data, page)
    async with context.db.for_workspace(workspace_id, "widget:contact") as conn:
        row = await repository.insert(
            conn,
            {
                "workspace_id": workspace_id,
                "kind": "contact",
                "to_email": to_email,
                "chatbot_id": bot["id"],
                **content,
            },
        )
        assert row is not None  # no idempotency key: nothing to conflict with
        await enqueue(conn, tasks.send_email, email_id=str(row["id"]))
    log.info("contact_email_queued", email_id=str(row["id"]), workspace_id=str(workspace_id))
    return row


async def emails(
    conn: Connection,
    subject: AuthSubject[User],
    *,
    status: str | None,
    kind: str | None,
    page: int,
    limit: int,
) -> tuple[list[dict[str, Any]], int]:
    """The workspace's e-mails, newest first (owners and admins)."""
    subject.require_admin("read the workspace's e-mails")
    return await repository.page(
        conn, subject.workspace_id, status=status, kind=kind, limit=limit,
        offset=(page - 1) * limit,
    )  # fmt: skip


async def email(conn: Connection, subject: AuthSubject[User], email_id: UUID) -> dict[str, Any]:
    subject.require_admin("read the workspace's e-mails")
    row = await repository.get(conn, subject.workspace_id, email_id)
    if row is None:
        raise EmailNotFound()
    return row
