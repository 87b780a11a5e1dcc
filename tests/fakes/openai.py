"""A local fake of the OpenAI HTTP API, in its wire format (providers.md §1).

Serves what the real `openai` SDK calls, byte-for-byte where the SDK cares:

* `GET /v1/models`, `GET /v1/models/{id}` — the model list (404 `model_not_found` otherwise).
* `POST /v1/chat/completions` — non-streaming and SSE streaming (`data: {chunk}\\n\\n` …
  `data: [DONE]\\n\\n`), tool calls, `stream_options.include_usage`, OpenAI's usage object.
* `POST /v1/embeddings` — deterministic hashed bag-of-words vectors (word tokens plus character
  trigrams at a smaller weight, L2-normalised), as float lists or base64 of little-endian
  float32 (the SDK's default). Texts sharing words have a high cosine similarity.

Every request needs `Authorization: Bearer <key>` with a key in `valid_keys`, else 401
`invalid_api_key`. Errors use OpenAI's body `{"error": {"message", "type", "param", "code"}}`.

Test controls: `script(*replies)` queues `Reply`s consumed one per chat-completions request
(when the queue is empty the answer is `"Echo: <last user message>"`); `fail_next(n, status)`
makes the next n requests (any endpoint) fail; `latency` / `chunk_delay` slow it down for
benchmarks; `requests` / `chat_requests` record what reached it; `reset()` forgets it all.

The fake runs on a real port (`with FakeOpenAI() as fake: fake.base_url`) in a server thread,
so its state is guarded by a lock. `fake.app` is the bare ASGI app, for in-process transports.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import math
import re
import secrets
import string
import struct
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.fakes.base import ProviderFake

DEFAULT_KEY = "sk-test-fake-openai-0000000000000000"

# id -> (created, owned_by)
DEFAULT_MODELS: dict[str, tuple[int, str]] = {
    "gpt-4o-mini": (1721172741, "system"),
    "gpt-4o": (1715367049, "system"),
    "gpt-4.1-mini": (1744318173, "system"),
    "gpt-4.1": (1744316542, "system"),
    "text-embedding-3-small": (1705948997, "system"),
    "text-embedding-3-large": (1705953180, "system"),
}

# Native (and maximum) dimensions of the embedding models.
EMBEDDING_DIMENSIONS = {"text-embedding-3-small": 1536, "text-embedding-3-large": 3072}
DEFAULT_EMBEDDING_DIMENSIONS = 1536  # embedding models not in the table above

SYSTEM_FINGERPRINT = "fp_fake0000"

_DEFAULT_ERRORS: dict[int, tuple[str, str, str | None]] = {
    # status -> (message, type, code)
    400: ("Invalid request (fake).", "invalid_request_error", None),
    401: ("Incorrect API key provided.", "invalid_request_error", "invalid_api_key"),
    403: ("You are not allowed to sample from this model", "invalid_request_error", None),
    404: ("Not found (fake).", "invalid_request_error", None),
    408: ("Request timed out.", "server_error", None),
    409: ("Conflict (fake).", "invalid_request_error", None),
    422: ("Unprocessable request (fake).", "invalid_request_error", None),
    429: (
        "Rate limit reached for requests (fake). Please try again in 1s.",
        "requests",
        "rate_limit_exceeded",
    ),
    500: (
        "The server had an error while processing your request. Sorry about that!",
        "server_error",
        None,
    ),
    502: ("Bad gateway.", "server_error", None),
    503: ("The engine is currently overloaded, please try again later.", "server_error", None),
}


# -- scripting ----------------------------------------------------------------------------------


@dataclass
class ToolCall:
    """A function call the fake model makes. `arguments` may be a dict (JSON-encoded on the
    wire) or an already-encoded string (sent verbatim, so it can be deliberately invalid)."""

    name: str
    arguments: dict[str, Any] | str
    id: str | None = None  # "call_<random>" when None

    def arguments_json(self) -> str:
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(self.arguments, separators=(",", ":"), ensure_ascii=False)


@dataclass
class Reply:
    """One scripted answer to a chat-completions request.

    `status` and/or `error` make that request fail instead (status defaults to 500 when only
    `error` is given; `error` may be the whole body `{"error": {...}}` or just its inner
    object, merged over the default for that status). `retry_after` adds a `retry-after`
    header (seconds) to a failure. `delay` is slept before answering (on top of `latency`).
    `finish_reason` overrides the computed one ("tool_calls" with tool calls, else "stop").
    Token counts default to the fake's ceil(len/4) estimate."""

    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cached_tokens: int = 0
    status: int | None = None
    error: dict[str, Any] | None = None
    delay: float = 0
    retry_after: float | None = None
    finish_reason: str | None = None


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # lower-cased names
    json: Any  # the parsed body; None for GET or a body that is not JSON
    query: dict[str, str] = field(default_factory=dict)

    @property
    def api_key(self) -> str | None:
        scheme, _, key = self.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return key.strip() or None


@dataclass
class _Failure:
    status: int
    error: dict[str, Any] | None
    retry_after: float | None


# -- helpers ------------------------------------------------------------------------------------


def error_body(
    status: int,
    message: str | None = None,
    *,
    type: str | None = None,
    param: str | None = None,
    code: str | None = None,
) -> dict[str, Any]:
    default_message, default_type, default_code = _DEFAULT_ERRORS.get(
        status,
        (
            f"Error {status} (fake).",
            "server_error" if status >= 500 else "invalid_request_error",
            None,
        ),
    )
    return {
        "error": {
            "message": message if message is not None else default_message,
            "type": type if type is not None else default_type,
            "param": param,
            "code": code if code is not None else default_code,
        }
    }


def _request_id() -> str:
    return "req_" + secrets.token_hex(16)


def _random_id(prefix: str, length: int = 24) -> str:
    alphabet = string.ascii_letters + string.digits
    return prefix + "".join(secrets.choice(alphabet) for _ in range(length))


def _error_response(
    status: int,
    body: dict[str, Any] | None = None,
    *,
    retry_after: float | None = None,
    **error: Any,
) -> JSONResponse:
    if body is None:
        body = error_body(status, **error)
    headers = {"x-request-id": _request_id()}
    if status == 429:
        headers.update(
            {
                "x-ratelimit-limit-requests": "500",
                "x-ratelimit-remaining-requests": "0",
                "x-ratelimit-reset-requests": "1s",
            }
        )
    if retry_after is not None:
        headers["retry-after"] = f"{retry_after:g}"
    return JSONResponse(body, status_code=status, headers=headers)


def _failure_body(status: int, error: dict[str, Any] | None) -> dict[str, Any]:
    body = error_body(status)
    if error is None:
        return body
    if "error" in error:
        return error
    body["error"].update(error)
    return body


def _mask_key(key: str) -> str:
    if len(key) <= 12:
        return key
    return key[:8] + "*" * (len(key) - 12) + key[-4:]


def estimate_tokens(text: str) -> int:
    """The fake's token count: ceil(len(text) / 4)."""
    return math.ceil(len(text) / 4)


def message_text(content: Any) -> str:
    """The text of a message `content`: a string, or a list of content parts."""
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "".join(parts)
    return str(content)


def split_words(text: str) -> list[str]:
    """Stream pieces: each word with its leading whitespace; they concatenate back to `text`."""
    return re.findall(r"\s*\S+|\s+\Z", text)


def _split_fixed(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


# -- embeddings ---------------------------------------------------------------------------------

_WORD = re.compile(r"\w+", re.UNICODE)
TRIGRAM_WEIGHT = 0.5  # the total L2 weight of a word's trigrams (the word itself weighs 1)


def _feature(feature: str, dimensions: int) -> tuple[int, float]:
    digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
    value = int.from_bytes(digest, "little")
    return value % dimensions, (1.0 if (value >> 63) & 1 else -1.0)


def embed_text(text: str, dimensions: int = DEFAULT_EMBEDDING_DIMENSIONS) -> list[float]:
    """The fake's embedding of `text`: a signed hashed bag of words (lower-cased word tokens)
    plus each word's character trigrams (boundary-padded, total weight TRIGRAM_WEIGHT per
    word), L2-normalised. Deterministic across processes. Texts sharing words score a high
    cosine similarity; unrelated texts score near 0."""
    vector = [0.0] * dimensions
    words = _WORD.findall(text.lower())
    for word in words:
        index, sign = _feature("w:" + word, dimensions)
        vector[index] += sign
        padded = f"<{word}>"
        trigrams = [padded[i : i + 3] for i in range(len(padded) - 2)]
        weight = TRIGRAM_WEIGHT / math.sqrt(len(trigrams))
        for trigram in trigrams:
            index, sign = _feature("t:" + trigram, dimensions)
            vector[index] += sign * weight
    if not words:  # punctuation only, or empty: still a deterministic unit vector
        index, sign = _feature("raw:" + text, dimensions)
        vector[index] = sign
    norm = math.sqrt(sum(v * v for v in vector))
    if norm == 0.0:  # features cancelled out exactly
        index, sign = _feature("raw:" + text, dimensions)
        vector[index] = sign
        norm = 1.0
    return [v / norm for v in vector]


def cosine(a: Iterable[float], b: Iterable[float]) -> float:
    a, b = list(a), list(b)
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    return dot / (na * nb) if na and nb else 0.0


def _encode_base64(vector: list[float]) -> str:
    return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode("ascii")


# -- the fake -----------------------------------------------------------------------------------


class FakeOpenAI(ProviderFake):
    def __init__(
        self,
        valid_keys: Iterable[str] | None = None,
        *,
        latency: float = 0.0,
        chunk_delay: float = 0.0,
        models: Iterable[str] | None = None,
    ) -> None:
        """`valid_keys`: the accepted API keys (default: just DEFAULT_KEY, exposed as `key`).
        `latency`: seconds slept before answering any request. `chunk_delay`: seconds
        between streamed chunks. `models`: the model ids served (default DEFAULT_MODELS);
        ids containing "embedding" are embedding models, the rest chat models."""
        keys = set(valid_keys) if valid_keys is not None else {DEFAULT_KEY}
        self.valid_keys: set[str] = keys
        self.key: str = DEFAULT_KEY if DEFAULT_KEY in keys or not keys else sorted(keys)[0]
        self.latency = latency
        self.chunk_delay = chunk_delay
        ids = list(models) if models is not None else list(DEFAULT_MODELS)
        self.models: dict[str, tuple[int, str]] = {
            m: DEFAULT_MODELS.get(m, (1700000000, "system")) for m in ids
        }
        self._requests: list[RecordedRequest] = []
        self._script: deque[Reply] = deque()
        methods = ["GET", "POST", "PUT", "PATCH", "DELETE"]
        super().__init__(
            routes=[
                Route("/v1/models", self._endpoint(self._list_models), methods=["GET"]),
                Route(
                    "/v1/models/{model:path}",
                    self._endpoint(self._get_model),
                    methods=["GET"],
                ),
                Route(
                    "/v1/chat/completions",
                    self._endpoint(self._chat_completions),
                    methods=["POST"],
                ),
                Route("/v1/embeddings", self._endpoint(self._embeddings), methods=["POST"]),
                Route("/{path:path}", self._endpoint(self._unknown), methods=methods),
            ]
        )
        # Failures here carry an error body and a Retry-After too.
        self._failures: deque[_Failure] = deque()  # type: ignore[assignment]

    # -- lifecycle ----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """What to pass as the SDK's `base_url`: http://127.0.0.1:PORT/v1."""
        return self.url + "/v1"

    # -- test controls ------------------------------------------------------------------------

    def script(self, *replies: Reply | str) -> None:
        """Queue replies, consumed one per (valid) chat-completions request. A str is
        shorthand for `Reply(content=...)`."""
        with self._lock:
            self._script.extend(Reply(content=r) if isinstance(r, str) else r for r in replies)

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        error: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Make the next n requests to any endpoint fail with `status` (before the key is
        checked and without consuming the script). `error` as in `Reply.error`."""
        with self._lock:
            self._failures.extend(_Failure(status, error, retry_after) for _ in range(n))

    def reset(self) -> None:
        """Forget recorded requests, the script and pending failures (keys stay)."""
        with self._lock:
            self._requests.clear()
            self._script.clear()
            self._failures.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request that reached the fake, oldest first (a snapshot)."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of the chat-completions requests (a snapshot)."""
        return [
            r.json for r in self.requests if r.method == "POST" and r.path == "/v1/chat/completions"
        ]

    @property
    def embedding_requests(self) -> list[dict[str, Any]]:
        """The JSON bodies of the embeddings requests (a snapshot)."""
        return [r.json for r in self.requests if r.method == "POST" and r.path == "/v1/embeddings"]

    @property
    def scripted_remaining(self) -> int:
        """How many scripted replies are still queued."""
        with self._lock:
            return len(self._script)

    # -- plumbing -----------------------------------------------------------------------------

    def _endpoint(self, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            raw = await request.body()
            body: Any = None
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = None
            recorded = RecordedRequest(
                method=request.method,
                path=request.url.path,
                headers={k.lower(): v for k, v in request.headers.items()},
                json=body,
                query=dict(request.query_params),
            )
            with self._lock:
                self._requests.append(recorded)
                failure = self._failures.popleft() if self._failures else None
            if self.latency:
                await asyncio.sleep(self.latency)
            if failure is not None:
                return _error_response(
                    failure.status,
                    _failure_body(failure.status, failure.error),
                    retry_after=failure.retry_after,
                )
            denied = self._check_key(recorded)
            if denied is not None:
                return denied
            if raw and body is None and request.method == "POST":
                return _error_response(
                    400,
                    message=(
                        "We could not parse the JSON body of your request. (HINT: This likely "
                        "means you aren't using your HTTP library correctly. The OpenAI API "
                        "expects a JSON payload, but what was sent was not valid JSON.)"
                    ),
                )
            response: Response = await handler(request, body)
            response.headers.setdefault("x-request-id", _request_id())
            response.headers.setdefault("openai-processing-ms", "1")
            return response

        return endpoint

    def _check_key(self, recorded: RecordedRequest) -> JSONResponse | None:
        key = recorded.api_key
        with self._lock:
            valid = key is not None and key in self.valid_keys
        if valid:
            return None
        if key is None:
            message = (
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY), "
                "or as the password field (with blank username) if you're accessing the API "
                "from your browser and are prompted for a username and password. You can "
                "obtain an API key from https://platform.openai.com/account/api-keys."
            )
        else:
            message = (
                f"Incorrect API key provided: {_mask_key(key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys."
            )
        return _error_response(401, message=message, code="invalid_api_key")

    def _model_object(self, model: str) -> dict[str, Any]:
        created, owned_by = self.models[model]
        return {"id": model, "object": "model", "created": created, "owned_by": owned_by}

    def _model_not_found(self, model: str) -> JSONResponse:
        return _error_response(
            404,
            message=f"The model `{model}` does not exist or you do not have access to it.",
            code="model_not_found",
        )

    # -- the API ------------------------------------------------------------------------------

    async def _unknown(self, request: Request, body: Any) -> Response:
        return _error_response(404, message=f"Invalid URL ({request.method} {request.url.path})")

    async def _list_models(self, request: Request, body: Any) -> Response:
        return JSONResponse(
            {"object": "list", "data": [self._model_object(m) for m in self.models]}
        )

    async def _get_model(self, request: Request, body: Any) -> Response:
        model = request.path_params["model"]
        if model not in self.models:
            return self._model_not_found(model)
        return JSONResponse(self._model_object(model))

    async def _chat_completions(self, request: Request, body: Any) -> Response:
        if not isinstance(body, dict):
            return _error_response(400, message="The request body must be a JSON object.")
        model = body.get("model")
        if not model:
            return _error_response(400, message="you must provide a model parameter")
        if not isinstance(model, str):
            return _error_response(
                400,
                message=f"Invalid type for 'model': expected a string, but got {type(model).__name__} instead.",
                param="model",
                code="invalid_type",
            )
        if "messages" not in body:
            return _error_response(
                400,
                message="Missing required parameter: 'messages'.",
                param="messages",
                code="missing_required_parameter",
            )
        messages = body["messages"]
        if not isinstance(messages, list):
            return _error_response(
                400,
                message="Invalid type for 'messages': expected an array, but got an object instead.",
                param="messages",
                code="invalid_type",
            )
        if not messages:
            return _error_response(
                400,
                message=(
                    "Invalid 'messages': empty array. Expected an array with minimum length 1, "
                    "but got an empty array instead."
                ),
                param="messages",
                code="empty_array",
            )
        for i, item in enumerate(messages):
            if not isinstance(item, dict) or "role" not in item:
                return _error_response(
                    400,
                    message=f"Missing required parameter: 'messages[{i}].role'.",
                    param=f"messages[{i}].role",
                    code="missing_required_parameter",
                )
        if model not in self.models:
            return self._model_not_found(model)
        if "embedding" in model:
            return _error_response(
                404,
                message=(
                    "This is not a chat model and thus not supported in the "
                    "v1/chat/completions endpoint. Did you mean to use v1/completions?"
                ),
                param="model",
            )

        with self._lock:
            reply = self._script.popleft() if self._script else None
        if reply is None:
            last_user = next(
                (m.get("content") for m in reversed(messages) if m.get("role") == "user"), ""
            )
            reply = Reply(content=f"Echo: {message_text(last_user)}")
        if reply.delay:
            await asyncio.sleep(reply.delay)
        if reply.status is not None or reply.error is not None:
            status = reply.status or 500
            return _error_response(
                status, _failure_body(status, reply.error), retry_after=reply.retry_after
            )

        tool_calls: list[dict[str, Any]] = [
            {
                "id": tc.id or _random_id("call_"),
                "type": "function",
                "function": {"name": tc.name, "arguments": tc.arguments_json()},
            }
            for tc in reply.tool_calls
        ]
        prompt_text = "".join(message_text(m.get("content")) for m in messages)
        completion_text = (reply.content or "") + "".join(
            tc["function"]["name"] + tc["function"]["arguments"] for tc in tool_calls
        )
        prompt_tokens = (
            reply.prompt_tokens if reply.prompt_tokens is not None else estimate_tokens(prompt_text)
        )
        completion_tokens = (
            reply.completion_tokens
            if reply.completion_tokens is not None
            else estimate_tokens(completion_text)
        )
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "prompt_tokens_details": {"cached_tokens": reply.cached_tokens, "audio_tokens": 0},
            "completion_tokens_details": {
                "reasoning_tokens": 0,
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }
        finish_reason = reply.finish_reason or ("tool_calls" if tool_calls else "stop")
        completion_id = _random_id("chatcmpl-", 29)
        created = int(time.time())

        if body.get("stream"):
            options = body.get("stream_options") or {}
            return StreamingResponse(
                self._stream(
                    completion_id=completion_id,
                    created=created,
                    model=model,
                    content=reply.content,
                    tool_calls=tool_calls,
                    finish_reason=finish_reason,
                    usage=usage if options.get("include_usage") else None,
                    obfuscation=options.get("include_obfuscation", True) is not False,
                ),
                media_type="text/event-stream; charset=utf-8",
                headers={"cache-control": "no-cache"},
            )

        message: dict[str, Any] = {
            "role": "assistant",
            "content": reply.content,
            "refusal": None,
            "annotations": [],
        }
        if tool_calls:
            message["tool_calls"] = tool_calls
        return JSONResponse(
            {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": message,
                        "logprobs": None,
                        "finish_reason": finish_reason,
                    }
                ],
                "usage": usage,
                "service_tier": "default",
                "system_fingerprint": SYSTEM_FINGERPRINT,
            }
        )

    async def _stream(
        self,
        *,
        completion_id: str,
        created: int,
        model: str,
        content: str | None,
        tool_calls: list[dict[str, Any]],
        finish_reason: str,
        usage: dict[str, Any] | None,
        obfuscation: bool,
    ) -> AsyncIterator[bytes]:
        def chunk(
            delta: dict[str, Any] | None, finish: str | None = None, last_usage: Any = None
        ) -> bytes:
            data: dict[str, Any] = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "service_tier": "default",
                "system_fingerprint": SYSTEM_FINGERPRINT,
                "choices": []
                if delta is None
                else [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}],
                "usage": last_usage,
            }
            if obfuscation:
                data["obfuscation"] = secrets.token_urlsafe(6)
            return f"data: {json.dumps(data, separators=(',', ':'))}\n\n".encode()

        deltas: list[dict[str, Any]] = []
        if content is not None:
            deltas.append({"role": "assistant", "content": "", "refusal": None})
            deltas.extend({"content": piece} for piece in split_words(content))
        for index, call in enumerate(tool_calls):
            first = {
                "index": index,
                "id": call["id"],
                "type": "function",
                "function": {"name": call["function"]["name"], "arguments": ""},
            }
            if not deltas:
                deltas.append(
                    {"role": "assistant", "content": None, "tool_calls": [first], "refusal": None}
                )
            else:
                deltas.append({"tool_calls": [first]})
            for piece in _split_fixed(call["function"]["arguments"], 8):
                deltas.append({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
        if not deltas:  # neither content nor tool calls
            deltas.append({"role": "assistant", "content": "", "refusal": None})

        frames = [chunk(d) for d in deltas]
        frames.append(chunk({}, finish_reason))
        if usage is not None:
            frames.append(chunk(None, last_usage=usage))
        frames.append(b"data: [DONE]\n\n")
        for i, frame in enumerate(frames):
            if i and self.chunk_delay:
                await asyncio.sleep(self.chunk_delay)
            yield frame

    async def _embeddings(self, request: Request, body: Any) -> Response:
        if not isinstance(body, dict):
            return _error_response(400, message="The request body must be a JSON object.")
        model = body.get("model")
        if not model or not isinstance(model, str):
            return _error_response(400, message="you must provide a model parameter")
        if "input" not in body:
            return _error_response(
                400,
                message="Missing required parameter: 'input'.",
                param="input",
                code="missing_required_parameter",
            )
        texts = _embedding_inputs(body["input"])
        if texts is None:
            return _error_response(
                400,
                message="'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference.",
                param="input",
            )
        if model not in self.models:
            return self._model_not_found(model)
        if "embedding" not in model:
            return _error_response(
                400,
                message=f"The model `{model}` does not support embeddings.",
                param="model",
            )
        native = EMBEDDING_DIMENSIONS.get(model, DEFAULT_EMBEDDING_DIMENSIONS)
        dimensions = body.get("dimensions")
        if dimensions is None:
            dimensions = native
        elif (
            not isinstance(dimensions, int)
            or isinstance(dimensions, bool)
            or not 1 <= dimensions <= native
        ):
            return _error_response(
                400,
                message=(
                    f"This model's maximum dimensions is {native}; {dimensions!r} is not "
                    "within the supported range."
                ),
                param="dimensions",
            )
        encoding = body.get("encoding_format") or "float"
        if encoding not in ("float", "base64"):
            return _error_response(
                400,
                message=(
                    f"Invalid value: '{encoding}'. Supported values are: 'float' and 'base64'."
                ),
                param="encoding_format",
                code="invalid_value",
            )
        data = []
        for index, text in enumerate(texts):
            vector = embed_text(text, dimensions)
            data.append(
                {
                    "object": "embedding",
                    "index": index,
                    "embedding": _encode_base64(vector) if encoding == "base64" else vector,
                }
            )
        tokens = sum(estimate_tokens(t) for t in texts)
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )


def _embedding_inputs(value: Any) -> list[str] | None:
    """`input` as a list of texts: a str, a list of str, token ids (list of int) or a list of
    token-id lists (ids are embedded as their decimal text). None when invalid or empty."""
    if isinstance(value, str):
        return [value] if value else None
    if not isinstance(value, list) or not value:
        return None
    if all(isinstance(v, int) and not isinstance(v, bool) for v in value):
        return [" ".join(map(str, value))]
    texts = []
    for item in value:
        if isinstance(item, str) and item:
            texts.append(item)
        elif isinstance(item, list) and item and all(isinstance(v, int) for v in item):
            texts.append(" ".join(map(str, item)))
        else:
            return None
    return texts
