"""Response envelopes shared by the REST API (the omnichannel document's shapes)."""

from __future__ import annotations

import math
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, Field

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


def _header_safe(value: str) -> str:
    value = value.strip()
    if not value or not all("!" <= c <= "~" for c in value):
        raise ValueError(
            "must be the key exactly as the provider shows it: printable ASCII, no spaces"
        )
    return value


# A credential we send to its provider in an HTTP header, which can carry nothing but ASCII: a
# key pasted with a stray character is refused when it is saved, not on every later call.
ProviderKey = Annotated[str, AfterValidator(_header_safe)]
