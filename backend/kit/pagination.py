"""The page parameters of every paginated list: one definition, so that every list bounds them
alike (a page past the database's integer range would otherwise fail inside the query)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

# Far past any real list at any page size; the offset it gives stays a small bigint.
MAX_PAGE = 1_000_000

Page = Annotated[int, Query(ge=1, le=MAX_PAGE, description="1-based page number")]
Limit = Annotated[int, Query(ge=1, le=100, description="Items per page")]


def offset(page: int, limit: int) -> int:
    return (page - 1) * limit
