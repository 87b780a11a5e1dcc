from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, HttpUrl

from backend.kit.schemas import ProviderKey


class OpenAIConnect(BaseModel):
    api_key: ProviderKey = Field(min_length=8, max_length=500)


class OpenAIStatus(BaseModel):
    connected: bool
    status: Literal["valid", "invalid"] | None = None
    key_last4: str | None = None
    models: list[str] = Field(default_factory=list)
    validated_at: datetime | None = None
    last_error: str | None = None


class OpenAIValidation(BaseModel):
    valid: bool
    key_last4: str
    models: list[str] = Field(default_factory=list)
    error: str | None = None
    validated_at: datetime


class CommerceConnect(BaseModel):
    base_url: HttpUrl
    api_key: ProviderKey = Field(min_length=1, max_length=500)


class CommerceStatus(BaseModel):
    connected: bool
    base_url: str | None = None
    key_last4: str | None = None
    updated_at: datetime | None = None
