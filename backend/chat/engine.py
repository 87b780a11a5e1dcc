"""The conversation engine: one for every channel (widget, API, WhatsApp, portal), knowing none.

A turn comes in on a channel (`conversations.channel`), which finds the conversation and says who
sent the message and what they may see; the engine answers it:
1. load the bot with its workspace's AI configuration and keys, and (through the channel) the
   conversation;
2. answer from the response cache or a confident FAQ match when it can (free, instant);
3. without a model key, answer from the knowledge base (best passages and their links) or say
   plainly that it cannot;
4. otherwise hold the call's cost against the budget *before* spending anything
   (`billing.metering`), then call the model with the workspace's key, the knowledge and recent
   history, running its tool calls;
5. store both messages (only the answer, when the channel stored the question), the usage and
   its cost, and the cache entry, in one transaction.

No database transaction stays open while a provider works: the engine reads in one short
transaction, calls out, and writes in another. Answers are produced as a stream of events
(`Token`s, then one `Done`), which the channel delivers its own way.
"""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import OrderedDict
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from uuid import UUID

import anyio
import structlog

from backend.billing import metering, prices
from backend.billing.metering import Meter
from backend.cache import repository as cache
from backend.chat import faq as faq_matching
from backend.chat import prompt as prompts
from backend.chat import repository
from backend.chat.tools import MAX_RESULT_CHARS, ORDER_TOOLS, Toolbox
from backend.chatbots.service import ChatbotNotFound
from backend.config import Settings
from backend.conversations import repository as conversations
from backend.conversations.channel import ANY_ORDER, Channel, Opened, OrderOwner
from backend.db import Connection, Database, set_claims, workspace_claims
from backend.errors import ProviderUnavailable, VoxtroError
from backend.integrations.commerce.client import CommerceClient
from backend.integrations.openai.client import Completion, InvalidKey, OpenAIError, OpenAIGateway
from backend.kit.crypto import SecretBox
from backend.kit.lexicon import Lexicon, tokens
from backend.kit.safe_http import SafeHTTPClient
from backend.kit.timing import provider_wait
from backend.knowledge import service as knowledge
from backend.leads import repository as lead_keeping

if TYPE_CHECKING:
    from backend.context import AppContext

log = structlog.get_logger(__name__)

MAX_TOOL_ROUNDS = 3
# What one round's tool results may add to the prompt (a few calls of MAX_RESULT_CHARS each).
MAX_TOOL_RESULT_TOKENS = 3 * MAX_RESULT_CHARS // 2
HISTORY_MESSAGES = 20
TOPICS = 4  # what a greeting or an unanswered question offers to ask about


class ProviderKeyRefused(VoxtroError):
    status_code = 502
    code = "PROVIDER_KEY_INVALID"


@dataclass
class ChatInput:
    """A turn: a message for a bot, come in on a channel, which knows its conversation and its
    sender."""

    chatbot_id: UUID
    message: str
    channel: Channel
    # An admin of the bot's workspace trying it: it answers while inactive, and what it costs
    # is counted as a preview.
    preview: bool = False
    # False for work that only fills the cache: usage is metered, no conversation is kept.
    record_conversation: bool = True
    # The question as the channel stored it already (WhatsApp stores what comes in before it is
    # answered): it is not stored again, and the answer replies to it (once: `reply_to` is
    # unique). The channel's history is then what came before it.
    message_id: UUID | None = None
    # A model outage is answered with the fallback message when someone is waiting for the
    # answer; a channel that answers from a job raises `ProviderUnavailable` instead, and retries.
    fallback_on_outage: bool = True


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost: Decimal = Decimal(0)

    def tokens(self) -> dict[str, int]:
        """What the sender may see of it (the cost is the workspace's business)."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "cached_tokens": self.cached_tokens,
        }


@dataclass
class ChatResult:
    conversation_id: UUID
    message_id: UUID
    message: str
    source: str  # model, cache, faq, knowledge, fallback
    actions: list[dict[str, Any]] = field(default_factory=list)
    citations: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    model: str | None = None


@dataclass
class Token:
    text: str


@dataclass
class Done:
    result: ChatResult


async def final(first: Token | Done, events: AsyncGenerator[Token | Done, None]) -> ChatResult:
    """The answer of a stream whose first event was read, its tokens skipped."""
    event = first
    while not isinstance(event, Done):
        event = await anext(events)
    return event.result


@dataclass
class _Turn:
    """What one message needs, gathered before any provider is called."""

    bot: dict[str, Any]
    inp: ChatInput
    opened: Opened
    meter: Meter
    first_turn: bool
    started: float
    normalized: str = ""
    embedding: list[float] | None = None
    finished: bool = False  # the answer is stored and its cost settled

    @property
    def workspace_id(self) -> UUID:
        return self.meter.workspace_id

    @property
    def conversation_id(self) -> UUID:
        return self.opened.conversation_id

    @property
    def is_new(self) -> bool:
        return self.opened.is_new

    @property
    def history(self) -> list[dict[str, str]]:
        return self.opened.history

    @property
    def order_owner(self) -> OrderOwner:
        return self.opened.sender.orders

    @property
    def principal(self) -> str:
        return f"chat:{self.inp.channel.name}"

    @property
    def shares_answers(self) -> bool:
        """Whether the response cache serves this message and keeps its answer: a first
        question of an anonymous sender. Later turns depend on the conversation, and a known
        sender's answers may be about them (their orders)."""
        return self.first_turn and not self.opened.sender.known


@dataclass
class _ModelCall:
    """A model call being prepared: the prompt, the tools and what it may cost."""

    messages: list[dict[str, Any]]
    toolbox: Toolbox
    tools: list[dict[str, Any]]
    max_cost: Decimal
    knowledge: knowledge.Extent


@dataclass(frozen=True)
class _BotParts:
    faqs: faq_matching.FaqIndex
    actions: list[dict[str, Any]]
    knowledge: knowledge.Extent
    # What the bot can tell about, to offer whoever asks: its FAQs' questions, else its pages.
    topics: list[str]


class _PartsCache:
    """A bot's FAQs, actions and how much knowledge it has, per (bot, cache version), so a
    message does not reread them: changing any of them bumps the bot's cache version, which
    makes the old entry unreachable."""

    def __init__(self, size: int = 1000) -> None:
        self._entries: OrderedDict[tuple[UUID, int, str | None], _BotParts] = OrderedDict()
        self._size = size

    async def get(self, conn: Connection, bot: dict[str, Any]) -> _BotParts:
        # The language reads the FAQs; changing it changes no cache version.
        key = (bot["id"], bot["cache_version"], bot["language"])
        if key in self._entries:
            self._entries.move_to_end(key)
            return self._entries[key]
        faqs = faq_matching.FaqIndex(await repository.faqs(conn, bot["id"]), bot["language"])
        extent = await knowledge.extent(conn, bot["id"])
        topics = faqs.topics(TOPICS)
        if not topics and extent.chunks:
            topics = await knowledge.topics(conn, bot["id"], TOPICS)
        parts = _BotParts(faqs, await repository.actions(conn, bot["id"]), extent, topics)
        self._entries[key] = parts
        if len(self._entries) > self._size:
            self._entries.popitem(last=False)
        return parts


class ChatEngine:
    """Built once per process (the web app at start-up, a job from the worker's parts): it
    keeps each bot's parts between messages."""

    def __init__(
        self,
        *,
        db: Database,
        secrets: SecretBox,
        openai: OpenAIGateway,
        http: SafeHTTPClient,
        settings: Settings,
    ) -> None:
        self.db = db
        self.secrets = secrets
        self.openai = openai
        self.http = http
        self.settings = settings
        self._parts = _PartsCache()

    @classmethod
    def build(cls, context: AppContext) -> ChatEngine:
        """An engine on the running backend's parts (the web app's, or a job's)."""
        return cls(
            db=context.db,
            secrets=context.secrets,
            openai=context.openai,
            http=context.http,
            settings=context.settings,
        )

    async def reply(self, inp: ChatInput) -> ChatResult:
        events = self.events(inp)
        return await final(await anext(events), events)

    async def events(self, inp: ChatInput) -> AsyncGenerator[Token | Done, None]:
        started = time.perf_counter()
        principal = f"chat:{inp.channel.name}"
        # Everything this message needs to know, and its budget admission, in one transaction:
        # the bot id is public, so the bot is found as the login role, and from then on the
        # transaction runs under its workspace's claims.
        async with self.db.system() as conn:
            bot = await repository.load_bot(conn, inp.chatbot_id)
            if bot is None or not (bot["is_active"] or inp.preview):
                raise ChatbotNotFound()
            await set_claims(conn, workspace_claims(bot["workspace_id"], principal))
            turn = await self._begin(conn, bot, inp, started)
            parts = await self._parts.get(conn, bot)
            hit = (
                await cache.find_exact(conn, bot["id"], bot["cache_version"], turn.normalized)
                if turn.shares_answers
                else None
            )
            api_key = self._api_key(bot)
            words = parts.faqs.lexicon
            # Without a model, a greeting or a thank-you is answered as one (a model answers
            # it in its own words).
            talk = (
                words.small_talk(inp.message, names=_name_words(bot)) if api_key is None else None
            )
            if talk is not None and words.read(talk.rest).features:
                talk = None  # "Hi, how long does shipping take?" is a question
            asked = words.read(inp.message)
            matches = parts.faqs.best(asked) if hit is None and talk is None else []
            best = matches[0] if matches else None
            # With a model, only a certain match answers by itself: the model, shown the close
            # ones, answers the rest in its own words.
            bar = faq_matching.CONFIDENT if api_key is None else faq_matching.CERTAIN
            faq = best if best is not None and best.score >= bar else None
            passages: list[knowledge.Passage] = []
            call = None
            if hit is None and talk is None and api_key is None:
                # Without a model, the FAQ and the knowledge are ranked together: unless an
                # FAQ is certain, the passage holding more of the question answers ("shipping"
                # is better told by the shipping page than by "Do you ship internationally?").
                certain = best is not None and best.score >= faq_matching.CERTAIN
                if not certain and parts.knowledge.chunks and asked.features:
                    passages = await knowledge.search(
                        conn, bot["id"], inp.message, language=bot["language"]
                    )
                held = 100 * passages[0].score if passages else 0.0
                if best is not None and best.score >= max(faq_matching.CONFIDENT, held):
                    faq, passages = best, []
                else:
                    faq = None
            elif hit is None and faq is None and talk is None:
                call = self._prepare_call(turn, matches, parts)
                # When calls in flight hold the room, it is waited for below, outside this
                # transaction.
                await turn.meter.admit(conn, call.max_cost)
        if hit is not None:
            yield await self._answer(turn, hit["answer"], "cache", citations=hit["citations"])
        elif faq is not None:
            yield await self._answer(turn, faq.answer, "faq")
        elif talk is not None:
            yield await self._answer(turn, _small_talk(talk.kind, bot, words, parts), "small_talk")
        elif api_key is None or call is None:
            yield await self._answer_without_model(turn, passages, parts)
        else:
            await turn.meter.wait_for_room(self.db, principal)
            # Closed here and now when our reader goes away, not whenever the garbage
            # collector gets to it: what the abandoned answer cost is settled before we return.
            async with aclosing(self._answer_with_model(turn, api_key, call, matches)) as answer:
                async for event in answer:
                    yield event

    # -- gathering ----------------------------------------------------------------------------

    async def _begin(
        self, conn: Connection, bot: dict[str, Any], inp: ChatInput, started: float
    ) -> _Turn:
        opened = await inp.channel.open(conn, inp.chatbot_id, history=HISTORY_MESSAGES)
        return _Turn(
            bot=bot,
            inp=inp,
            opened=opened,
            meter=Meter(
                UUID(str(bot["workspace_id"])),
                bot["id"],
                inp.channel.label,
                preview=inp.preview,
            ),
            first_turn=not any(m["role"] == "user" for m in opened.history),
            started=started,
            normalized=faq_matching.normalize(inp.message),
        )

    def _api_key(self, bot: dict[str, Any]) -> str | None:
        if not bot["openai_key"] or bot["openai_status"] != "valid":
            return None
        return self.secrets.decrypt(bot["openai_key"])

    # -- answers without a model ----------------------------------------------------------------

    async def _answer_without_model(
        self, turn: _Turn, passages: list[knowledge.Passage], parts: _BotParts
    ) -> Done:
        replies = parts.faqs.lexicon.replies
        if not passages:
            # Plainly, and with what the bot can help with instead of a guess.
            text = turn.bot["fallback_message"] or _NO_ANSWER
            if parts.topics:
                text += f"\n\n{replies['topics']}\n" + "\n".join(f"- {t}" for t in parts.topics)
            return await self._answer(turn, text, "fallback")
        best = passages[0]
        # Lines wrapped inside a paragraph of the source read as one paragraph here.
        unwrapped = _unwrap(best.text)
        text = unwrapped if len(unwrapped) <= 600 else unwrapped[:600].rsplit(" ", 1)[0] + "…"
        citations = [
            {"title": p.title or None, "url": p.url} for p in passages[:3] if p.url or p.title
        ]
        sources = "\n".join(
            f"- {c['title'] or c['url']}: {c['url']}" if c["url"] else f"- {c['title']}"
            for c in citations
        )
        answer = f"{replies['found']}\n\n{text}" + (
            f"\n\n{replies['sources']}\n{sources}" if sources else ""
        )
        return await self._answer(turn, answer, "knowledge", citations=citations)

    async def _answer(
        self,
        turn: _Turn,
        text: str,
        source: str,
        *,
        citations: list[dict[str, Any]] | None = None,
    ) -> Done:
        result = ChatResult(
            turn.conversation_id, uuid.uuid4(), text, source, citations=citations or []
        )
        with anyio.CancelScope(shield=True):
            async with self.db.for_workspace(turn.workspace_id, turn.principal) as conn:
                await self._store(conn, turn, result)
        return Done(result)

    # -- answers from the model -----------------------------------------------------------------

    def _prepare_call(
        self, turn: _Turn, faqs: list[faq_matching.FaqMatch], parts: _BotParts
    ) -> _ModelCall:
        """The call before its knowledge is known (that needs the question's embedding, which
        costs money, so it comes after admission): the cost allows for a full knowledge block."""
        bot = turn.bot
        messages: list[dict[str, Any]] = [
            {"role": "system", "content": prompts.system_prompt(bot, [], faqs)},
            *prompts.fit_history(turn.history),
            {"role": "user", "content": turn.inp.message},
        ]
        toolbox = self._toolbox(bot, parts.actions, order_owner=turn.order_owner)
        tools = toolbox.definitions()
        max_cost = metering.max_cost(
            bot["model"],
            bot["max_tokens"],
            messages,
            tools,
            calls=MAX_TOOL_ROUNDS + 1 if tools else 1,
            round_tokens=MAX_TOOL_RESULT_TOKENS,
            extra_prompt_tokens=2 * prompts.KNOWLEDGE_TOKEN_BUDGET,
        )
        return _ModelCall(messages, toolbox, tools, max_cost, parts.knowledge)

    async def _answer_with_model(
        self, turn: _Turn, api_key: str, prepared: _ModelCall, faqs: list[faq_matching.FaqMatch]
    ) -> AsyncGenerator[Token | Done, None]:
        bot = turn.bot
        messages, toolbox, tools = prepared.messages, prepared.toolbox, prepared.tools
        passages: list[knowledge.Passage] = []
        streamed: list[str] = []  # text of the model call in flight, until it is metered
        try:
            # The embedding serves the semantic cache (first questions) and vector search (bots
            # with embedded knowledge); otherwise it would be money and time for nothing.
            wanted = turn.shares_answers or prepared.knowledge.vectors
            embedding = await self._embed_question(turn, api_key) if wanted else None
            async with self.db.for_workspace(turn.workspace_id, turn.principal) as conn:
                hit = (
                    await cache.find_similar(
                        conn,
                        bot["id"],
                        bot["cache_version"],
                        embedding,
                        self.settings.semantic_cache_similarity,
                    )
                    if turn.shares_answers and embedding is not None
                    else None
                )
                if hit is None and prepared.knowledge.chunks:
                    passages = await knowledge.search(
                        conn,
                        bot["id"],
                        turn.inp.message,
                        language=bot["language"],
                        # Only a bot with embedded knowledge is searched by meaning.
                        embedding=embedding if prepared.knowledge.vectors else None,
                    )
            if hit is not None:
                yield await self._finish(turn, hit["answer"], "cache", citations=hit["citations"])
                return
            messages[0] = {"role": "system", "content": prompts.system_prompt(bot, passages, faqs)}
            usage = Usage()
            performed: list[dict[str, Any]] = []  # the tool calls, as the client sees them
            leads: list[dict[str, Any]] = []
            escalate = False
            completion: Completion | None = None
            for round_number in range(MAX_TOOL_ROUNDS + 1):
                last_round = round_number == MAX_TOOL_ROUNDS
                request: dict[str, Any] = {
                    "model": bot["model"],
                    "messages": messages,
                    "temperature": float(bot["temperature"]),
                    "max_tokens": bot["max_tokens"],
                }
                if tools and not last_round:
                    request["tools"] = tools
                completion = None
                events = self.openai.stream(api_key, **request)
                while True:
                    with provider_wait():
                        event = await anext(events, None)
                    if event is None:
                        break
                    if event.completion is not None:
                        completion = event.completion
                    elif event.text:
                        streamed.append(event.text)
                        yield Token(event.text)
                assert completion is not None
                self._meter(turn, completion, usage)
                streamed = []
                if not completion.tool_calls:
                    break
                messages.append(
                    {
                        "role": "assistant",
                        "content": completion.content,
                        "tool_calls": [
                            {
                                "id": c.id,
                                "type": "function",
                                "function": {"name": c.name, "arguments": c.arguments},
                            }
                            for c in completion.tool_calls
                        ],
                    }
                )
                outcomes = await asyncio.gather(*(toolbox.run(c) for c in completion.tool_calls))
                for call, outcome in zip(completion.tool_calls, outcomes, strict=True):
                    messages.append(
                        {"role": "tool", "tool_call_id": call.id, "content": outcome.content}
                    )
                    performed.append(outcome.action)
                    escalate = escalate or outcome.escalate
                    if outcome.lead is not None:
                        leads.append(outcome.lead)
        except (GeneratorExit, asyncio.CancelledError):
            # The client went away mid-answer. What the model produced still costs the
            # workspace: meter it (the call in flight by estimate) before letting go. Once the
            # answer is finished (the client left while it was being handed over) it is paid.
            if not turn.finished:
                with anyio.CancelScope(shield=True):
                    await self._abandoned(turn, messages, "".join(streamed))
            raise
        except InvalidKey as exc:
            await self._key_refused(turn, str(exc))
            raise ProviderKeyRefused(
                "The workspace's OpenAI key was refused; an admin must connect a valid key"
            ) from exc
        except OpenAIError as exc:
            log.warning("model_call_failed", chatbot_id=str(bot["id"]), error=str(exc))
            if not turn.inp.fallback_on_outage:
                with anyio.CancelScope(shield=True):
                    await self._unanswered(turn)
                raise ProviderUnavailable(f"The model could not be reached: {exc}") from exc
            fallback = bot["fallback_message"] or _NO_ANSWER
            yield await self._finish(turn, fallback, "fallback", usage=Usage())
            return
        answer = (
            (completion.content if completion else None) or bot["fallback_message"] or _NO_ANSWER
        )
        yield await self._finish(
            turn,
            answer,
            "model",
            usage=usage,
            actions=performed,
            leads=leads,
            escalate=escalate,
            citations=prompts.cited(answer, passages),
            model=completion.model if completion else bot["model"],
            cacheable=turn.shares_answers and not performed,
        )

    async def _abandoned(self, turn: _Turn, messages: list[dict[str, Any]], partial: str) -> None:
        """Record the usage of an answer nobody waited for: no messages, but every call made,
        and the one cut off estimated from its prompt and what it had written."""
        if partial:
            turn.meter.cut_off(turn.bot["model"], messages, partial)
        await self._unanswered(turn)
        log.info("answer_abandoned", chatbot_id=str(turn.bot["id"]), cost=str(turn.meter.spent))

    async def _unanswered(self, turn: _Turn) -> None:
        """Settle a turn that stores no answer: the calls it made are paid for."""
        conversation = None if turn.is_new else turn.conversation_id  # a new one was never stored
        async with self.db.for_workspace(turn.workspace_id, turn.principal) as conn:
            await turn.meter.record(conn, conversation_id=conversation)
            await turn.meter.settle(conn)

    def _toolbox(
        self, bot: dict[str, Any], actions: list[dict[str, Any]], *, order_owner: OrderOwner
    ) -> Toolbox:
        commerce = None
        if bot["commerce_base_url"]:
            commerce = CommerceClient(
                self.http,
                base_url=bot["commerce_base_url"],
                api_key=self.secrets.decrypt(bot["commerce_key"]),
            )
        return Toolbox(
            actions=actions,
            commerce=commerce,
            # Orders are personal: the channel says whose the sender may ask about (any, those
            # placed with one phone, or none).
            orders=order_owner is not None,
            order_owner=None if order_owner == ANY_ORDER else order_owner,
            http=self.http,
            secrets=self.secrets,
        )

    async def _embed_question(self, turn: _Turn, api_key: str) -> list[float] | None:
        """The question's embedding, for knowledge search and the semantic cache. Both work
        without it (a server without embeddings: a proxy, Ollama), so only a refused key stops
        the message."""
        model = prices.DEFAULT_EMBEDDING_MODEL
        try:
            with provider_wait():
                [embedding], tokens = await self.openai.embed(
                    api_key, [turn.inp.message], model=model
                )
        except InvalidKey:
            raise
        except OpenAIError as exc:
            log.info("question_not_embedded", chatbot_id=str(turn.bot["id"]), error=str(exc))
            return None
        turn.embedding = embedding
        turn.meter.embedding(model, tokens)
        return embedding

    def _meter(self, turn: _Turn, completion: Completion, usage: Usage) -> None:
        usage.prompt_tokens += completion.prompt_tokens
        usage.completion_tokens += completion.completion_tokens
        usage.cached_tokens += completion.cached_tokens
        usage.cost += turn.meter.completion(completion)

    async def _key_refused(self, turn: _Turn, error: str) -> None:
        async with self.db.for_workspace(turn.workspace_id, turn.principal) as conn:
            await repository.mark_openai_key_invalid(conn, turn.workspace_id, error[:500])
            await turn.meter.release(conn)

    async def _finish(
        self,
        turn: _Turn,
        text: str,
        source: str,
        *,
        usage: Usage | None = None,
        actions: list[dict[str, Any]] | None = None,
        leads: list[dict[str, Any]] | None = None,
        escalate: bool = False,
        citations: list[dict[str, Any]] | None = None,
        model: str | None = None,
        cacheable: bool = False,
    ) -> Done:
        result = ChatResult(
            turn.conversation_id,
            uuid.uuid4(),
            text,
            source,
            actions=actions or [],
            citations=citations or [],
            usage=usage or Usage(),
            model=model,
        )
        # Shielded: a reader closing the stream now must not lose what the answer cost.
        with anyio.CancelScope(shield=True):
            await self._write_finish(turn, result, leads, escalate, cacheable)
        turn.finished = True
        return Done(result)

    async def _write_finish(
        self,
        turn: _Turn,
        result: ChatResult,
        leads: list[dict[str, Any]] | None,
        escalate: bool,
        cacheable: bool,
    ) -> None:
        async with self.db.for_workspace(turn.workspace_id, turn.principal) as conn:
            await self._store(conn, turn, result, leads=leads or [], escalate=escalate)
            await turn.meter.settle(conn)
            if cacheable:
                await cache.store(
                    conn,
                    workspace_id=turn.workspace_id,
                    chatbot_id=turn.bot["id"],
                    version=turn.bot["cache_version"],
                    question=turn.inp.message,
                    normalized=turn.normalized,
                    answer=result.message,
                    citations=result.citations,
                    embedding=turn.embedding,
                    channel=turn.inp.channel.label,
                )

    # -- storing --------------------------------------------------------------------------------

    async def _store(
        self,
        conn: Connection,
        turn: _Turn,
        result: ChatResult,
        *,
        leads: list[dict[str, Any]] | None = None,
        escalate: bool = False,
    ) -> None:
        """Both messages, the usage rows, leads and the conversation's counters, together, sent
        as one pipeline (no round trip per statement)."""
        async with conn.pipeline():
            await self._write(conn, turn, result, leads=leads, escalate=escalate)

    async def _write(
        self,
        conn: Connection,
        turn: _Turn,
        result: ChatResult,
        *,
        leads: list[dict[str, Any]] | None,
        escalate: bool,
    ) -> None:
        inp, bot = turn.inp, turn.bot
        if not inp.record_conversation:
            await turn.meter.record(conn, conversation_id=None)
            return
        await inp.channel.keep(
            conn,
            turn.opened,
            workspace_id=turn.workspace_id,
            chatbot_id=bot["id"],
            answer=result,
        )
        common = {
            "workspace_id": turn.workspace_id,
            "conversation_id": turn.conversation_id,
            "channel": inp.channel.name,
        }
        answer = {
            **common,
            "id": result.message_id,
            "role": "assistant",
            "content": result.message,
            "source": result.source,
            "cached_response": result.source == "cache",
            "model": result.model,
            "prompt_tokens": result.usage.prompt_tokens,
            "completion_tokens": result.usage.completion_tokens,
            "cached_tokens": result.usage.cached_tokens,
            "cost": result.usage.cost,
            "latency_ms": round((time.perf_counter() - turn.started) * 1000),
            "actions": result.actions,
            "citations": result.citations,
        }
        if turn.opened.answer_status is not None:
            answer["status"] = turn.opened.answer_status
        if inp.message_id is not None:
            answer["reply_to"] = inp.message_id
            added = [answer]
        else:
            added = [{**common, "role": "user", "content": inp.message}, answer]
        await conversations.add_messages(conn, added)
        await turn.meter.record(
            conn, conversation_id=turn.conversation_id, message_id=result.message_id
        )
        for lead in leads or []:
            # One lead per person, and a customer, as for forms and extraction.
            await lead_keeping.keep(
                conn,
                turn.workspace_id,
                chatbot_id=bot["id"],
                conversation_id=turn.conversation_id,
                values=lead,
                source="chat",
            )
        await conversations.touch_conversation(
            conn,
            turn.conversation_id,
            added=len(added),
            escalate=escalate,
            # The dashboard's "orders tracked": each order look-up the bot made for someone.
            order_lookups=sum(
                a.get("name") in ORDER_TOOLS and a.get("status") == "ok" for a in result.actions
            ),
        )


_STRUCTURE_LINE = re.compile(r"^\s*(?:[-*#>|]|\d+[.)])")


def _unwrap(text: str) -> str:
    """Paragraph lines joined (sources often wrap prose at a fixed width); headings, list items
    and blank lines kept."""
    lines: list[str] = []
    for line in text.split("\n"):
        prose = line.strip() and not _STRUCTURE_LINE.match(line)
        previous = lines[-1] if lines else ""
        if prose and previous.strip() and not _STRUCTURE_LINE.match(previous):
            lines[-1] = f"{previous.rstrip()} {line.strip()}"
        else:
            lines.append(line)
    return "\n".join(lines)


_NO_ANSWER = "Sorry, I don't know the answer to that yet."


_DEFAULT_WELCOME = "Hi! How can I help?"  # chatbots.first_message's default


def _name_words(bot: dict[str, Any]) -> frozenset[str]:
    """The bot's and its business's names: "Hi Chicx Assistant!" is still a greeting."""
    return frozenset(tokens(f"{bot['name']} {bot.get('workspace_name') or ''}"))


def _small_talk(kind: str, bot: dict[str, Any], words: Lexicon, parts: _BotParts) -> str:
    replies = words.replies
    if kind != "greeting":
        return replies[kind]
    # The bot's own welcome when an admin wrote one (the column's default is English, whatever
    # the workspace speaks), and what one may ask it.
    welcome = (bot.get("first_message") or "").strip()
    text = welcome if welcome and welcome != _DEFAULT_WELCOME else replies["greeting"]
    if parts.topics:
        text += f"\n\n{replies['examples']}\n" + "\n".join(f"- {t}" for t in parts.topics)
    return text
