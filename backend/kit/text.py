"""Counting text in model tokens without a tokenizer (none can be downloaded here)."""

from __future__ import annotations

import math


def estimate_tokens(text: str) -> int:
    """~4 characters a token for English, rounded up, plus a little for message wrapping.
    Prompt-building budgets only need the order of magnitude."""
    return math.ceil(len(text) / 4) + 4


def max_tokens_of(text: str) -> int:
    """A count no tokenizer exceeds in practice (one token per two bytes of UTF-8: scripts such
    as Devanagari or Tamil take far more tokens per character than English), for budgets that
    must not be under-estimated."""
    return math.ceil(len(text.encode()) / 2) + 4
