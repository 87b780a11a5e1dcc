"""What a message's provider calls cost the workspace: the most they may cost, held against its
budget before anything is spent (`service.admit`), one usage row per call, and the real cost
settled in the transaction that stores the answer.

Here, in billing, and not in the chat engine: the usage rows are what budgets, credits, the
Stripe meter and the dashboards count, and voice and WhatsApp calls will be metered the same
way. The engine says what it called; this module says what that costs and keeps the account.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

from backend.billing import prices, repository
from backend.billing import service as billing
from backend.db import Connection, Database
from backend.integrations.openai.client import Completion
from backend.kit.text import estimate_tokens, max_tokens_of


def max_cost(
    model: str,
    max_tokens: int,
    messages: list[dict[str, Any]],
    tools: list[Any],
    *,
    calls: int,
    round_tokens: int,
    extra_prompt_tokens: int = 0,
) -> Decimal:
    """The most a message may cost: each of its `calls` (one per tool round) with the prompt
    grown by the `round_tokens` of tool results before it and a full answer, counted
    conservatively, plus the question's embedding."""
    prompt = sum(max_tokens_of(str(m.get("content") or "")) for m in messages)
    prompt += max_tokens_of(str(tools)) + extra_prompt_tokens
    total = Decimal(0)
    for call in range(calls):
        grown = prompt + call * round_tokens
        cost, _ = prices.cost(model, prompt_tokens=grown, completion_tokens=max_tokens)
        total += cost
    embedding, _ = prices.cost(
        prices.DEFAULT_EMBEDDING_MODEL, prompt_tokens=prompt, completion_tokens=0
    )
    return total + embedding


@dataclass
class Meter:
    """One message's spending: its admission, and a usage row per provider call."""

    workspace_id: UUID
    chatbot_id: UUID
    channel: str  # as usage rows name it: CHAT, API, PORTAL, …
    preview: bool = False
    admission: billing.Admission | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    _held: Decimal = Decimal(0)

    @property
    def spent(self) -> Decimal:
        return sum((row["cost"] for row in self.rows), Decimal(0))

    async def admit(self, conn: Connection, amount: Decimal) -> None:
        """Hold `amount` in the transaction that reads the message, or raise `WorkspacePaused`.
        When calls in flight hold the rest of the limit, `wait_for_room` holds it later."""
        self._held = amount
        try:
            self.admission = await billing.admit(conn, self.workspace_id, amount)
        except billing.BudgetHeld:
            self.admission = None

    async def wait_for_room(self, db: Database, principal: str) -> billing.Admission:
        """The admission, after waiting (outside any transaction) for calls in flight to settle
        when `admit` found the room held."""
        if self.admission is None:
            self.admission = await billing.wait_for_room(
                db, self.workspace_id, self._held, principal
            )
        return self.admission

    def completion(self, completion: Completion) -> Decimal:
        """A model call made: its row, and its cost."""
        cost, version = prices.cost(
            completion.model,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            cached_tokens=completion.cached_tokens,
        )
        self._row(
            "OPENAI_GPT",
            completion.model,
            completion.prompt_tokens,
            completion.completion_tokens,
            completion.cached_tokens,
            cost,
            version,
        )
        return cost

    def embedding(self, model: str, tokens: int) -> None:
        cost, version = prices.cost(model, prompt_tokens=tokens, completion_tokens=0)
        self._row("OPENAI_EMBEDDING", model, tokens, 0, 0, cost, version)

    def cut_off(self, model: str, messages: list[dict[str, Any]], partial: str) -> None:
        """A model call abandoned mid-answer, estimated from its prompt and what it wrote."""
        prompt_tokens = sum(estimate_tokens(str(m.get("content") or "")) for m in messages)
        completion_tokens = estimate_tokens(partial)
        cost, version = prices.cost(
            model, prompt_tokens=prompt_tokens, completion_tokens=completion_tokens
        )
        self._row("OPENAI_GPT", model, prompt_tokens, completion_tokens, 0, cost, version)

    async def record(
        self, conn: Connection, *, conversation_id: UUID | None, message_id: UUID | None = None
    ) -> None:
        """The usage rows, for the stored answer (or none)."""
        extra: dict[str, Any] = {"conversation_id": conversation_id}
        if message_id is not None:
            extra["message_id"] = message_id
        await repository.add_usage(conn, [{**row, **extra} for row in self.rows])

    async def settle(self, conn: Connection) -> None:
        """The real cost in place of what was held, in the transaction of the usage rows."""
        assert self.admission is not None
        await billing.settle(conn, self.workspace_id, self.admission, self.spent)

    async def release(self, conn: Connection) -> None:
        """Nothing was spent (the provider refused the key): give the hold back."""
        assert self.admission is not None
        await billing.release(conn, self.admission)

    def _row(
        self,
        service: str,
        model: str,
        prompt_tokens: int,
        completion_tokens: int,
        cached_tokens: int,
        cost: Decimal,
        version: str,
    ) -> None:
        self.rows.append(
            {
                "workspace_id": self.workspace_id,
                "chatbot_id": self.chatbot_id,
                "service": service,
                "channel": self.channel,
                "model": model,
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "cached_tokens": cached_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
                "cost": cost,
                "price_version": version,
                "is_preview": self.preview,
            }
        )
