"""OpenAI (or any OpenAI-compatible server) through the official SDK, with the tenant's key.

One HTTP connection pool is shared by every tenant's client; each call names its own key.
The SDK retries 429/5xx with backoff and honours `retry-after`; what still fails comes out as
one of the errors below, which the chat engine turns into a clear answer.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any

import httpx2
import openai
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from backend.kit.network_errors import bad_status, service_at, unreachable

_CLIENT_CACHE_SIZE = 512


class OpenAIError(Exception):
    retryable = True


class InvalidKey(OpenAIError):
    """The provider refused the key (401/403): the connection is marked invalid."""

    retryable = False


class ProviderUnavailable(OpenAIError):
    """Rate-limited, out of quota, or down, after the retries."""


class BadRequest(OpenAIError):
    """The provider refused the request itself (unknown model, bad parameters)."""

    retryable = False


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str  # JSON text, as the model wrote it


@dataclass
class Completion:
    content: str | None
    tool_calls: list[ToolCall]
    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int
    model: str


@dataclass
class StreamEvent:
    """A piece of a streamed completion: text as it arrives, then the whole at the end."""

    text: str = ""
    completion: Completion | None = None


@dataclass
class _ToolCallBuffer:
    id: str = ""
    name: str = ""
    arguments: list[str] = field(default_factory=list)


def _usage(usage: Any) -> tuple[int, int, int]:
    if usage is None:
        return 0, 0, 0
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", 0) or 0
    return usage.prompt_tokens or 0, usage.completion_tokens or 0, cached


def _translate(exc: openai.APIError) -> OpenAIError:
    if isinstance(exc, openai.AuthenticationError | openai.PermissionDeniedError):
        return InvalidKey(str(exc))
    if isinstance(
        exc, openai.BadRequestError | openai.NotFoundError | openai.UnprocessableEntityError
    ):
        return BadRequest(str(exc))
    if isinstance(exc, openai.APIConnectionError):  # timeouts included
        where = service_at("OpenAI", str(exc.request.url))
        return ProviderUnavailable(unreachable(where, exc, setting="OPENAI_BASE_URL"))
    if isinstance(exc, openai.APIStatusError):
        return ProviderUnavailable(bad_status("OpenAI", exc.status_code, _detail(exc)))
    return ProviderUnavailable(str(exc))


def _detail(exc: openai.APIStatusError) -> str | None:
    body = exc.body
    if isinstance(body, dict):
        message = body.get("message") or (body.get("error") or {}).get("message")
        return str(message) if message else None
    return None


class OpenAIGateway:
    def __init__(self, *, base_url: str, timeout: float = 60.0, max_retries: int = 2) -> None:
        self._base_url = base_url
        self._max_retries = max_retries
        self._clients: OrderedDict[str, openai.AsyncOpenAI] = OrderedDict()
        # The SDK's own HTTP library (httpx2); one pool for every tenant's calls, so it keeps
        # no cookies: one a call got must not go out with another tenant's key.
        self._http = httpx2.AsyncClient(
            timeout=timeout,
            limits=httpx2.Limits(max_connections=200, max_keepalive_connections=50),
            cookies=CookieJar(DefaultCookiePolicy(allowed_domains=[])),
        )

    def _client(self, api_key: str) -> openai.AsyncOpenAI:
        """One SDK client per key (they are cheap to keep and dear to rebuild per call)."""
        client = self._clients.get(api_key)
        if client is None:
            client = openai.AsyncOpenAI(
                api_key=api_key,
                base_url=self._base_url,
                http_client=self._http,
                max_retries=self._max_retries,
            )
            self._clients[api_key] = client
            if len(self._clients) > _CLIENT_CACHE_SIZE:
                self._clients.popitem(last=False)
        else:
            self._clients.move_to_end(api_key)
        return client

    async def aclose(self) -> None:
        await self._http.aclose()

    async def list_models(self, api_key: str) -> list[str]:
        """The models this key may use; `InvalidKey` when the key is refused."""
        try:
            page = await self._client(api_key).with_options(max_retries=1).models.list()
        except openai.APIError as exc:
            raise _translate(exc) from exc
        return sorted(model.id for model in page.data)

    async def stream(self, api_key: str, **request: Any) -> AsyncIterator[StreamEvent]:
        """Yield text as the model writes it, then one event with the whole completion."""
        text: list[str] = []
        calls: dict[int, _ToolCallBuffer] = {}
        usage: Any = None
        model = request.get("model", "")
        try:
            # The SDK's low-level `post`: our request is already plain JSON, and `create()`
            # would walk it (tool schemas included) through its type transformer, which costs
            # more CPU than the rest of a chat message.
            stream = await self._client(api_key).post(
                "/chat/completions",
                body={**request, "stream": True, "stream_options": {"include_usage": True}},
                cast_to=ChatCompletion,
                stream=True,
                stream_cls=openai.AsyncStream[ChatCompletionChunk],
            )
            async for chunk in stream:
                model = chunk.model or model
                if chunk.usage is not None:
                    usage = chunk.usage
                for choice in chunk.choices:
                    delta = choice.delta
                    if delta.content:
                        text.append(delta.content)
                        yield StreamEvent(text=delta.content)
                    for part in delta.tool_calls or []:
                        buffer = calls.setdefault(part.index, _ToolCallBuffer())
                        buffer.id = part.id or buffer.id
                        if part.function is not None:
                            buffer.name = part.function.name or buffer.name
                            buffer.arguments.append(part.function.arguments or "")
        except openai.APIError as exc:
            raise _translate(exc) from exc
        prompt, completion, cached = _usage(usage)
        tool_calls = [
            ToolCall(id=b.id, name=b.name, arguments="".join(b.arguments))
            for _, b in sorted(calls.items())
        ]
        yield StreamEvent(
            completion=Completion(
                "".join(text) or None, tool_calls, prompt, completion, cached, model
            )
        )

    async def complete(self, api_key: str, **request: Any) -> Completion:
        """The whole completion of a request (streamed underneath, like every chat call)."""
        async for event in self.stream(api_key, **request):
            if event.completion is not None:
                return event.completion
        raise OpenAIError("the model answered nothing")

    async def embed(
        self, api_key: str, texts: list[str], *, model: str
    ) -> tuple[list[list[float]], int]:
        """Embeddings of `texts` (in order) and the tokens they cost."""
        try:
            response = await self._client(api_key).embeddings.create(input=texts, model=model)
        except openai.APIError as exc:
            raise _translate(exc) from exc
        ordered = sorted(response.data, key=lambda item: item.index)
        return [list(item.embedding) for item in ordered], response.usage.prompt_tokens
