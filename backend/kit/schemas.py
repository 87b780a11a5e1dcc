"""Response envelopes shared by the REST API (the omnichannel document's shapes)."""

from __future__ import annotations

import math
from typing import Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")


class Pagination(BaseModel):
    page: int
    limit: int
    total: int
    totalPages: int

    @classmethod
    def of(cls, *, page: int, limit: int, total: int) -> Pagination:
        return cls(page=page, limit=limit, total=total, totalPages=math.ceil(total / limit))


class Envelope(BaseModel, Generic[T]):
    success: bool = True
    data: T


class PageEnvelope(Envelope[list[T]], Generic[T]):
    pagination: Pagination

    @classmethod
    def of(cls, data: list[T], *, page: int, limit: int, total: int) -> PageEnvelope[T]:
        return cls(data=data, pagination=Pagination.of(page=page, limit=limit, total=total))


class FieldError(BaseModel):
    field: str
    message: str


class ErrorBody(BaseModel):
    success: bool = False
    status: str = "error"
    code: str
    message: str
    errors: list[FieldError] = Field(default_factory=list)
