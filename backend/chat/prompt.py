"""Building what the model reads: the system prompt (bot, workspace configuration, knowledge
with its sources) and as much recent history as fits the token budget."""

from __future__ import annotations

import re
from typing import Any

from backend.chat.faq import FaqMatch
from backend.kit.text import estimate_tokens
from backend.knowledge.service import Passage

HISTORY_TOKEN_BUDGET = 3000
KNOWLEDGE_TOKEN_BUDGET = 2500

_LANGUAGES = {
    "en": "English",
    "es": "Spanish",
    "fr": "French",
    "de": "German",
    "hi": "Hindi",
    "ta": "Tamil",
    "pt": "Portuguese",
    "it": "Italian",
    "nl": "Dutch",
    "ar": "Arabic",
}


def system_prompt(bot: dict[str, Any], passages: list[Passage], faqs: list[FaqMatch]) -> str:
    parts = [
        bot["system_prompt"].strip()
        or f"You are a helpful assistant for {bot['workspace_name']}. Answer questions from "
        "visitors accurately and briefly."
    ]
    if bot.get("custom_prompt"):
        parts.append(bot["custom_prompt"].strip())
    language = bot.get("language") or "en"
    parts.append(
        f"Tone: {bot.get('tone') or 'friendly'}. Answer in "
        f"{_LANGUAGES.get(language, language)} unless the visitor writes in another language."
    )
    if bot.get("prohibited_topics"):
        parts.append(
            "Never discuss these topics, even if asked: "
            + "; ".join(bot["prohibited_topics"])
            + ". Politely decline instead."
        )
    fallback = bot.get("fallback_message")
    if fallback:
        parts.append(
            "If you cannot answer from what you know, do not guess: say so and reply with "
            f'"{fallback}"'
        )
    knowledge: list[str] = []
    used = 0
    for i, passage in enumerate(passages, start=1):
        label = " — ".join(x for x in (passage.title, passage.url) if x)
        block = f"[{i}] {label}\n{passage.text}" if label else f"[{i}]\n{passage.text}"
        used += estimate_tokens(block)
        if used > KNOWLEDGE_TOKEN_BUDGET:
            break
        knowledge.append(block)
    if knowledge:
        parts.append("Knowledge (cite what you use as [n]):\n\n" + "\n\n".join(knowledge))
    if faqs:
        parts.append(
            "Frequently asked questions:\n"
            + "\n".join(f"Q: {f.question}\nA: {f.answer}" for f in faqs)
        )
    return "\n\n".join(parts)


def fit_history(
    history: list[dict[str, Any]], budget: int = HISTORY_TOKEN_BUDGET
) -> list[dict[str, str]]:
    """The most recent messages that fit the budget, oldest first."""
    kept: list[dict[str, str]] = []
    used = 0
    for message in reversed(history):
        used += estimate_tokens(message["content"])
        if used > budget:
            break
        kept.append({"role": message["role"], "content": message["content"]})
    return list(reversed(kept))


def cited(answer: str, passages: list[Passage]) -> list[dict[str, Any]]:
    """The sources an answer refers to by [n]."""
    numbers = {int(n) for n in re.findall(r"\[(\d{1,2})\]", answer)}
    return [
        {"title": p.title or None, "url": p.url}
        for i, p in enumerate(passages, start=1)
        if i in numbers and (p.url or p.title)
    ]
