"""Jobs of the response cache."""

from __future__ import annotations

from uuid import UUID

import procrastinate
import structlog

from backend.chat.engine import ChatEngine, ChatInput
from backend.tasks import PROVIDER_RETRY, app_context, task_app
from backend.widget.channel import WebChat

log = structlog.get_logger(__name__)


@task_app.task(name="cache.warm", retry=PROVIDER_RETRY, pass_context=True)
async def warm(context: procrastinate.JobContext, chatbot_id: str, query: str) -> None:
    """Answer one question through the engine so that its answer lands in the cache. A retry
    after a success finds the cached answer and costs nothing."""
    engine = ChatEngine.build(app_context(context))
    result = await engine.reply(
        ChatInput(
            chatbot_id=UUID(chatbot_id),
            message=query,
            # Asked as a widget visitor's first question: the answer serves theirs.
            channel=WebChat("cache-warmer"),
            record_conversation=False,
        )
    )
    log.info("cache_warmed", chatbot_id=chatbot_id, source=result.source)
