"""The conversation engine: one for every channel (widget, API, WhatsApp, portal).

For each visitor message:
1. load the bot with its workspace's AI configuration and keys, and the conversation;
2. answer from the response cache or a confident FAQ match when it can (free, instant);
3. without a model key, answer from the knowledge base (best passages and their links) or say
   plainly that it cannot;
4. otherwise hold the call's cost against the budget *before* spending anything, then call the
   model with the workspace's key, the knowledge and recent history, running its tool calls;
5. store both messages, the usage and its cost, and the cache entry, in one transaction.

No database transaction stays open while a provider works: the engine reads in one short
transaction, calls out, and writes in another. Answers are produced as a stream of events
(`Token`s, then one `Done`); the non-streaming API simply collects them.
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

from backend.billing import prices
from backend.billing import service as billing
from backend.cache import repository as cache
from backend.chat import faq as faq_matching
from backend.chat import prompt as prompts
from backend.chat import repository
from backend.chat.tools import MAX_RESULT_CHARS, ORDER_TOOLS, Toolbox
from backend.chatbots.service import ChatbotNotFound
from backend.conversations import repository as conversations
from backend.conversations.schemas import VerifiedUser
from backend.db import Connection, set_claims, workspace_claims
from backend.errors import NotFound, VoxtroError
from backend.integrations.commerce.client import CommerceClient
from backend.integrations.openai.client import Completion, InvalidKey, OpenAIError
from backend.kit.lexicon import Lexicon, tokens
from backend.kit.phones import national_digits
from backend.kit.text import estimate_tokens, max_tokens_of
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
_CHANNEL_LABELS = {
    "widget": "CHAT",
    "api": "API",
    "whatsapp": "WHATSAPP",
    "portal": "PORTAL",
    "voice": "VOICE",
}


class ConversationNotFound(NotFound):
    def __init__(self) -> None:
        super().__init__("Conversation not found")


class ProviderKeyRefused(VoxtroError):
    status_code = 502
    code = "PROVIDER_KEY_INVALID"


@dataclass
class ChatInput:
    chatbot_id: UUID
    message: str
    visitor_id: str
    conversation_id: UUID | None = None
    channel: str = "widget"
    preview: bool = False
    # Supplied by the caller (the OpenAI-compatible API) instead of the stored conversation.
    history: list[dict[str, str]] | None = None
    # False for work that only fills the cache: usage is metered, no conversation is kept.
    record_conversation: bool = True
    # Who the visitor is, when the host page vouched for them (widget identity verification).
    user: VerifiedUser | None = None
    # The workspace's customer this is (a verified visitor, a signed-in portal customer).
    customer_id: UUID | None = None


ANY_ORDER = "*"
OrderOwner = str | None


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    cost: Decimal = Decimal(0)

    def tokens(self) -> dict[str, int]:
        """What a visitor may see of it (the cost is the workspace's business)."""
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


@dataclass
class _Turn:
    """What one message needs, gathered before any provider is called."""

    bot: dict[str, Any]
    inp: ChatInput
    conversation_id: UUID
    is_new: bool
    history: list[dict[str, str]]
    first_turn: bool
    started: float
    normalized: str = ""
    usage_rows: list[dict[str, Any]] = field(default_factory=list)
    embedding: list[float] | None = None
    finished: bool = False  # the answer is stored and its cost settled
    # Whose orders the bot may look up: ANY_ORDER (an integration), the national digits of a
    # customer's phone, or None.
    order_owner: OrderOwner = None

    @property
    def workspace_id(self) -> UUID:
        return UUID(str(self.bot["workspace_id"]))

    @property
    def shares_answers(self) -> bool:
        """Whether the response cache serves this message and keeps its answer: a first
        question of an anonymous visitor. Later turns depend on the conversation, and a
        verified visitor's answers may be about them (their orders)."""
        return self.first_turn and self.inp.user is None and self.inp.customer_id is None


@dataclass
class _ModelCall:
    """A model call being prepared: the prompt, the tools, what it may cost and its admission."""

    messages: list[dict[str, Any]]
    toolbox: Toolbox
    tools: list[dict[str, Any]]
    max_cost: Decimal
    knowledge: knowledge.Extent
    admission: billing.Admission | None = None


@dataclass(frozen=True)
class _BotParts:
    faqs: faq_matching.FaqIndex
    actions: list[dict[str, Any]]
    knowledge: knowledge.Extent
    # What the bot can tell about, to offer a visitor: its FAQs' questions, else its pages.
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
    def __init__(self, context: AppContext) -> None:
        self.context = context
        self._parts = _PartsCache()

    async def reply(self, inp: ChatInput) -> ChatResult:
        async for event in self.events(inp):
            if isinstance(event, Done):
                return event.result
        raise AssertionError("the engine ended without an answer")

    async def events(self, inp: ChatInput) -> AsyncGenerator[Token | Done, None]:
        started = time.perf_counter()
        principal = f"chat:{inp.channel}"
        # Everything this message needs to know, and its budget admission, in one transaction:
        # the bot id is public, so the bot is found as the login role, and from then on the
        # transaction runs under its workspace's claims.
        async with self.context.db.system() as conn:
            bot = await repository.load_bot(conn, inp.chatbot_id)
            if bot is None or not (bot["is_active"] or inp.preview):
                raise ChatbotNotFound()
            await set_claims(conn, workspace_claims(bot["workspace_id"], principal))
            turn = await self._begin(conn, bot, inp, started)
            if inp.channel == "api":
                turn.order_owner = ANY_ORDER
            elif inp.customer_id is not None:
                turn.order_owner = national_digits(
                    await repository.customer_phone(conn, inp.customer_id)
                )
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
                try:
                    call.admission = await billing.admit(conn, turn.workspace_id, call.max_cost)
                except billing.BudgetHeld:
                    call.admission = None  # wait for room below, outside this transaction
        if hit is not None:
            yield await self._answer(turn, hit["answer"], "cache", citations=hit["citations"])
        elif faq is not None:
            yield await self._answer(turn, faq.answer, "faq")
        elif talk is not None:
            yield await self._answer(turn, _small_talk(talk.kind, bot, words, parts), "small_talk")
        elif api_key is None or call is None:
            yield await self._answer_without_model(turn, passages, parts)
        else:
            if call.admission is None:
                call.admission = await billing.wait_for_room(
                    self.context.db, turn.workspace_id, call.max_cost, principal
                )
            # Closed here and now when our reader goes away, not whenever the garbage
            # collector gets to it: what the abandoned answer cost is settled before we return.
            async with aclosing(self._answer_with_model(turn, api_key, call, matches)) as answer:
                async for event in answer:
                    yield event

    # -- gathering ----------------------------------------------------------------------------

    async def _begin(
        self, conn: Connection, bot: dict[str, Any], inp: ChatInput, started: float
    ) -> _Turn:
        conversation_id, is_new, history = inp.conversation_id, True, inp.history or []
        if inp.conversation_id is not None:
            conversation = await conversations.conversation(
                conn, inp.conversation_id, inp.chatbot_id
            )
            # Someone else's conversation is as unknown as one that does not exist; so is a
            # signed-in user's for whoever uses the browser after them (same visitor id).
            if conversation is None or conversation["visitor_id"] != inp.visitor_id:
                raise ConversationNotFound()
            if conversation["user_id"] is not None and (
                inp.user is None or inp.user.id != conversation["user_id"]
            ):
                raise ConversationNotFound()
            if inp.history is None:
                history = await conversations.history(
                    conn, inp.conversation_id, limit=HISTORY_MESSAGES
                )
            is_new = False
        return _Turn(
            bot=bot,
            inp=inp,
            conversation_id=conversation_id or uuid.uuid4(),
            is_new=is_new,
            history=history,
            first_turn=not any(m["role"] == "user" for m in history),
            started=started,
            normalized=faq_matching.normalize(inp.message),
        )

    def _api_key(self, bot: dict[str, Any]) -> str | None:
        if not bot["openai_key"] or bot["openai_status"] != "valid":
            return None
        return self.context.secrets.decrypt(bot["openai_key"])

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
            async with self.context.db.for_workspace(
                turn.workspace_id, f"chat:{turn.inp.channel}"
            ) as conn:
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
        max_cost = self._max_cost(
            bot, messages, tools, extra_prompt_tokens=2 * prompts.KNOWLEDGE_TOKEN_BUDGET
        )
        return _ModelCall(messages, toolbox, tools, max_cost, parts.knowledge)

    async def _answer_with_model(
        self, turn: _Turn, api_key: str, prepared: _ModelCall, faqs: list[faq_matching.FaqMatch]
    ) -> AsyncGenerator[Token | Done, None]:
        bot = turn.bot
        messages, toolbox, tools = prepared.messages, prepared.toolbox, prepared.tools
        assert prepared.admission is not None
        admission = prepared.admission
        passages: list[knowledge.Passage] = []
        streamed: list[str] = []  # text of the model call in flight, until it is metered
        try:
            # The embedding serves the semantic cache (first questions) and vector search (bots
            # with embedded knowledge); otherwise it would be money and time for nothing.
            wanted = turn.shares_answers or prepared.knowledge.vectors
            embedding = await self._embed_question(turn, api_key) if wanted else None
            async with self.context.db.for_workspace(
                turn.workspace_id, f"chat:{turn.inp.channel}"
            ) as conn:
                hit = (
                    await cache.find_similar(
                        conn,
                        bot["id"],
                        bot["cache_version"],
                        embedding,
                        self.context.settings.semantic_cache_similarity,
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
                yield await self._finish(
                    turn, admission, hit["answer"], "cache", citations=hit["citations"]
                )
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
                events = self.context.openai.stream(api_key, **request)
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
                    await self._abandoned(turn, admission, messages, "".join(streamed))
            raise
        except InvalidKey as exc:
            await self._key_refused(turn, admission, str(exc))
            raise ProviderKeyRefused(
                "The workspace's OpenAI key was refused; an admin must connect a valid key"
            ) from exc
        except OpenAIError as exc:
            log.warning("model_call_failed", chatbot_id=str(bot["id"]), error=str(exc))
            fallback = bot["fallback_message"] or _NO_ANSWER
            yield await self._finish(turn, admission, fallback, "fallback", usage=Usage())
            return
        answer = (
            (completion.content if completion else None) or bot["fallback_message"] or _NO_ANSWER
        )
        yield await self._finish(
            turn,
            admission,
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

    async def _abandoned(
        self,
        turn: _Turn,
        admission: billing.Admission,
        messages: list[dict[str, Any]],
        partial: str,
    ) -> None:
        """Record the usage of an answer nobody waited for: no messages, but every call made,
        and the one cut off estimated from its prompt and what it had written."""
        if partial:
            model = turn.bot["model"]
            prompt_tokens = sum(estimate_tokens(str(m.get("content") or "")) for m in messages)
            completion_tokens = estimate_tokens(partial)
            cost, version = prices.cost(
                model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
            )
            turn.usage_rows.append(
                self._usage_row(
                    turn, "OPENAI_GPT", model, prompt_tokens, completion_tokens, 0, cost, version
                )
            )
        spent = sum((row["cost"] for row in turn.usage_rows), Decimal(0))
        conversation = None if turn.is_new else turn.conversation_id  # a new one was never stored
        async with self.context.db.for_workspace(
            turn.workspace_id, f"chat:{turn.inp.channel}"
        ) as conn:
            await repository.add_usage(
                conn, [{**row, "conversation_id": conversation} for row in turn.usage_rows]
            )
            await billing.settle(conn, turn.workspace_id, admission, spent)
        log.info("answer_abandoned", chatbot_id=str(turn.bot["id"]), cost=str(spent))

    def _toolbox(
        self, bot: dict[str, Any], actions: list[dict[str, Any]], *, order_owner: OrderOwner
    ) -> Toolbox:
        commerce = None
        if bot["commerce_base_url"]:
            commerce = CommerceClient(
                self.context.http,
                base_url=bot["commerce_base_url"],
                api_key=self.context.secrets.decrypt(bot["commerce_key"]),
            )
        return Toolbox(
            actions=actions,
            commerce=commerce,
            # Orders are personal: an integration's server may look any up, a customer only
            # those placed with their own phone, an anonymous visitor none.
            orders=order_owner is not None,
            order_owner=None if order_owner == ANY_ORDER else order_owner,
            http=self.context.http,
            secrets=self.context.secrets,
        )

    def _max_cost(
        self,
        bot: dict[str, Any],
        messages: list[dict[str, Any]],
        tools: list[Any],
        *,
        extra_prompt_tokens: int = 0,
    ) -> Decimal:
        """The most this message may cost: every call it may make (one per tool round), each
        with the prompt grown by the tool results before it and a full answer, counted
        conservatively, plus the question's embedding."""
        prompt = sum(max_tokens_of(str(m.get("content") or "")) for m in messages)
        prompt += max_tokens_of(str(tools)) + extra_prompt_tokens
        calls = MAX_TOOL_ROUNDS + 1 if tools else 1
        total = Decimal(0)
        for call in range(calls):
            grown = prompt + call * MAX_TOOL_RESULT_TOKENS
            cost, _ = prices.cost(
                bot["model"], prompt_tokens=grown, completion_tokens=bot["max_tokens"]
            )
            total += cost
        embedding, _ = prices.cost(
            prices.DEFAULT_EMBEDDING_MODEL, prompt_tokens=prompt, completion_tokens=0
        )
        return total + embedding

    async def _embed_question(self, turn: _Turn, api_key: str) -> list[float] | None:
        """The question's embedding, for knowledge search and the semantic cache. Both work
        without it (a server without embeddings: a proxy, Ollama), so only a refused key stops
        the message."""
        model = prices.DEFAULT_EMBEDDING_MODEL
        try:
            with provider_wait():
                [embedding], tokens = await self.context.openai.embed(
                    api_key, [turn.inp.message], model=model
                )
        except InvalidKey:
            raise
        except OpenAIError as exc:
            log.info("question_not_embedded", chatbot_id=str(turn.bot["id"]), error=str(exc))
            return None
        turn.embedding = embedding
        cost, version = prices.cost(model, prompt_tokens=tokens, completion_tokens=0)
        turn.usage_rows.append(
            self._usage_row(turn, "OPENAI_EMBEDDING", model, tokens, 0, 0, cost, version)
        )
        return embedding

    def _meter(self, turn: _Turn, completion: Completion, usage: Usage) -> None:
        cost, version = prices.cost(
            completion.model,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            cached_tokens=completion.cached_tokens,
        )
        usage.prompt_tokens += completion.prompt_tokens
        usage.completion_tokens += completion.completion_tokens
        usage.cached_tokens += completion.cached_tokens
        usage.cost += cost
        turn.usage_rows.append(
            self._usage_row(
                turn,
                "OPENAI_GPT",
                completion.model,
                completion.prompt_tokens,
                completion.completion_tokens,
                completion.cached_tokens,
                cost,
                version,
            )
        )

    def _usage_row(
        self,
        turn: _Turn,
        service: str,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        cached_tokens: int,
        cost: Decimal,
        version: str,
    ) -> dict[str, Any]:
        return {
            "workspace_id": turn.workspace_id,
            "chatbot_id": turn.bot["id"],
            "conversation_id": turn.conversation_id,
            "service": service,
            "channel": _CHANNEL_LABELS.get(turn.inp.channel, turn.inp.channel.upper()),
            "model": model,
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "cached_tokens": cached_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
            "cost": cost,
            "price_version": version,
            "is_preview": turn.inp.preview,
        }

    async def _key_refused(self, turn: _Turn, admission: billing.Admission, error: str) -> None:
        async with self.context.db.for_workspace(
            turn.workspace_id, f"chat:{turn.inp.channel}"
        ) as conn:
            await repository.mark_openai_key_invalid(conn, turn.workspace_id, error[:500])
            await billing.release(conn, admission)

    async def _finish(
        self,
        turn: _Turn,
        admission: billing.Admission,
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
        spent = sum((row["cost"] for row in turn.usage_rows), Decimal(0))
        # Shielded: a visitor closing the stream now must not lose what the answer cost.
        with anyio.CancelScope(shield=True):
            await self._write_finish(turn, admission, result, spent, leads, escalate, cacheable)
        turn.finished = True
        return Done(result)

    async def _write_finish(
        self,
        turn: _Turn,
        admission: billing.Admission,
        result: ChatResult,
        spent: Decimal,
        leads: list[dict[str, Any]] | None,
        escalate: bool,
        cacheable: bool,
    ) -> None:
        async with self.context.db.for_workspace(
            turn.workspace_id, f"chat:{turn.inp.channel}"
        ) as conn:
            await self._store(conn, turn, result, leads=leads or [], escalate=escalate)
            await billing.settle(conn, turn.workspace_id, admission, spent)
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
                    channel=_CHANNEL_LABELS.get(turn.inp.channel, "CHAT"),
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
            await repository.add_usage(
                conn, [{**row, "conversation_id": None} for row in turn.usage_rows]
            )
            return
        if turn.is_new:
            await conversations.create_conversation(
                conn,
                conversation_id=turn.conversation_id,
                workspace_id=turn.workspace_id,
                chatbot_id=bot["id"],
                visitor_id=inp.visitor_id,
                channel=inp.channel,
                is_preview=inp.preview,
                user=inp.user,
                customer_id=inp.customer_id,
            )
        elif inp.user is not None or inp.customer_id is not None:
            await conversations.identify_conversation(
                conn, turn.conversation_id, inp.user, inp.customer_id
            )
        if inp.customer_id is not None:
            await repository.touch_customer(conn, inp.customer_id)
        common = {
            "workspace_id": turn.workspace_id,
            "conversation_id": turn.conversation_id,
            "channel": inp.channel,
        }
        await conversations.add_messages(
            conn,
            [
                {**common, "role": "user", "content": inp.message},
                {
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
                },
            ],
        )
        await repository.add_usage(
            conn, [{**row, "message_id": result.message_id} for row in turn.usage_rows]
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
            added=2,
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
    # the workspace speaks), and what a visitor may ask it.
    welcome = (bot.get("first_message") or "").strip()
    text = welcome if welcome and welcome != _DEFAULT_WELCOME else replies["greeting"]
    if parts.topics:
        text += f"\n\n{replies['examples']}\n" + "\n".join(f"- {t}" for t in parts.topics)
    return text
