"""An OpenAI-compatible endpoint for tenants: `POST /v1/chat/completions` with a workspace API
key, where `model` names one of the workspace's chatbots. The official `openai` SDKs can then
talk to any Voxtro bot, streaming or not. The caller sends the conversation so far; each call
is stored as a conversation of the `api` channel, and may look up any of the workspace's orders
(the caller is the workspace's own server).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Literal
from uuid import UUID

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from backend.auth.dependencies import ApiKeySubject, limit_visitor
from backend.chat.dependencies import Engine
from backend.chat.engine import ChatInput, ChatResult, Done, Token, final
from backend.chatbots import repository as chatbots
from backend.context import Context
from backend.conversations.channel import ANY_ORDER, Opened, Sender
from backend.db import Connection
from backend.errors import NotFound, ValidationFailed
from backend.widget.channel import STREAMED, WebChat
from backend.widget.schemas import MAX_MESSAGE_CHARS

router = APIRouter(tags=["OpenAI-compatible"])


class _Message(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[dict[str, Any]] | None = None


class _StreamOptions(BaseModel):
    include_usage: bool = False


class CompletionRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")  # temperature, top_p …: the bot's settings rule

    model: str
    messages: list[_Message] = Field(min_length=1, max_length=200)
    stream: bool = False
    stream_options: _StreamOptions | None = None
    user: str | None = Field(default=None, max_length=200)


def _text(content: str | list[dict[str, Any]] | None) -> str:
    if isinstance(content, list):
        return "".join(part.get("text", "") for part in content if part.get("type") == "text")
    return content or ""


@dataclass
class OpenAIChat(WebChat):
    """A call of the OpenAI-compatible API: a conversation of its own, with the dialogue the
    caller sent, answered in OpenAI's format."""

    dialogue: list[dict[str, str]] = field(default_factory=list)
    model: str = ""
    include_usage: bool = False
    name: str = "api"

    async def open(self, conn: Connection, chatbot_id: UUID, *, history: int) -> Opened:
        return Opened(
            uuid.uuid4(), is_new=True, history=self.dialogue, sender=Sender(orders=ANY_ORDER)
        )

    async def deliver(self, answer: AsyncGenerator[Token | Done, None]) -> Any:
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        created = int(time.time())
        first = await anext(answer)
        if not self.stream:
            result = await final(first, answer)
            return {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": self.model,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "logprobs": None,
                        "message": {
                            "role": "assistant",
                            "content": result.message,
                            "refusal": None,
                        },
                    }
                ],
                "usage": _usage(result),
            }

        def chunk(
            delta: dict[str, Any],
            finish: str | None = None,
            usage: Any = None,
            choices: bool = True,
        ) -> str:
            body = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": self.model,
                "usage": usage,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
                if choices
                else [],
            }
            return f"data: {json.dumps(body, ensure_ascii=False)}\n\n"

        async def stream() -> AsyncIterator[str]:
            yield chunk({"role": "assistant", "content": ""})
            event: Token | Done | None = first
            try:
                while event is not None:
                    if isinstance(event, Token):
                        yield chunk({"content": event.text})
                    else:
                        result = event.result
                        if result.source != "model":  # not streamed by the model: send it whole
                            yield chunk({"content": result.message})
                        yield chunk({}, finish="stop")
                        if self.include_usage:
                            yield chunk({}, usage=_usage(result), choices=False)
                    event = await anext(answer, None)
            finally:
                await answer.aclose()  # a reader gone mid-answer: settle what it cost now
            yield "data: [DONE]\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")


def _chat_input(data: CompletionRequest, chatbot_id: UUID, visitor: str) -> ChatInput:
    turns = [{"role": m.role, "content": _text(m.content)} for m in data.messages]
    if turns[-1]["role"] != "user" or not turns[-1]["content"].strip():
        raise ValidationFailed(
            "The last message must be the user's, with text",
            errors=[{"field": "messages", "message": "last message is not a user message"}],
        )
    question = turns[-1]["content"]
    if len(question) > MAX_MESSAGE_CHARS:
        raise ValidationFailed(
            f"The user message is longer than {MAX_MESSAGE_CHARS} characters",
            errors=[{"field": "messages", "message": "too long"}],
        )
    # The bot's own prompt rules; only the dialogue is taken from the caller.
    history = [t for t in turns[:-1] if t["role"] in {"user", "assistant"} and t["content"]]
    channel = OpenAIChat(
        visitor,
        stream=data.stream,
        dialogue=history,
        model=data.model,
        include_usage=bool(data.stream_options and data.stream_options.include_usage),
    )
    return ChatInput(chatbot_id=chatbot_id, message=question, channel=channel)


def _usage(result: ChatResult) -> dict[str, Any]:
    u = result.usage
    return {
        "prompt_tokens": u.prompt_tokens,
        "completion_tokens": u.completion_tokens,
        "total_tokens": u.prompt_tokens + u.completion_tokens,
        "prompt_tokens_details": {"cached_tokens": u.cached_tokens},
    }


@router.post(
    "/v1/chat/completions",
    summary="Create a chat completion with a chatbot (OpenAI format)",
    responses=STREAMED,
)
async def chat_completions(
    data: CompletionRequest,
    request: Request,
    subject: ApiKeySubject,
    context: Context,
    engine: Engine,
) -> Any:
    try:
        chatbot_id = UUID(data.model)
    except ValueError as exc:
        raise NotFound(f"No chatbot '{data.model}': use a chatbot id as the model") from exc
    async with context.db.for_workspace(subject.workspace_id, "api") as conn:
        owned = await chatbots.get_chatbot(conn, subject.workspace_id, chatbot_id)
    if owned is None:
        raise NotFound(f"No chatbot '{data.model}' in this workspace")
    visitor = data.user or f"api:{subject.principal.id}"
    await limit_visitor(context, request, chatbot_id, visitor)
    turn = _chat_input(data, chatbot_id, visitor)
    return await turn.channel.deliver(engine.events(turn))
