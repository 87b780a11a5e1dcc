"""The response cache's rules that are not the engine's: warming it with known questions."""

from __future__ import annotations

from uuid import UUID

from backend.auth.subjects import AuthSubject, User
from backend.cache import tasks as cache_tasks
from backend.chatbots import repository as chatbots
from backend.db import Connection
from backend.errors import NotFound, ValidationFailed
from backend.tasks import enqueue


async def warm(
    conn: Connection, subject: AuthSubject[User], *, chatbot_id: UUID | None, queries: list[str]
) -> tuple[UUID, int]:
    """Queue one answering job per distinct question, for the named chatbot (or the workspace's
    only one); the chatbot and how many questions were queued."""
    subject.require_admin("warm the cache")
    found = await chatbots.chatbot_ids(conn, subject.workspace_id, chatbot_id)
    if chatbot_id is not None and not found:
        raise NotFound("Chatbot not found")
    if len(found) != 1:
        raise ValidationFailed(
            "Say which chatbot to warm",
            errors=[
                {
                    "field": "chatbotId",
                    "message": "required when the workspace has several chatbots",
                }
            ],
        )
    distinct = list(dict.fromkeys(q.strip() for q in queries if q.strip()))
    for query in distinct:
        await enqueue(conn, cache_tasks.warm, chatbot_id=str(found[0]), query=query[:4000])
    return found[0], len(distinct)
