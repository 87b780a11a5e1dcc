"""The omnichannel document's Business API shapes (camelCase, as documented)."""

from __future__ import annotations

from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator


class BusinessProfile(BaseModel):
    id: str
    name: str
    email: str | None
    phone: str | None
    industry: str | None
    timeZone: str  # the days of the dashboards (an IANA name; not in the omnichannel document)
    active: bool
    createdAt: str


class BusinessProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = Field(default=None, max_length=320)  # null clears it
    phone: str | None = Field(default=None, max_length=32)
    industry: str | None = Field(default=None, max_length=100)
    timeZone: str | None = Field(default=None, max_length=64)

    @field_validator("timeZone")
    @classmethod
    def _known_zone(cls, value: str | None) -> str:
        if value is None or value not in available_timezones():
            raise ValueError("must be an IANA time zone such as Asia/Kolkata")
        return value

    @field_validator("name")
    @classmethod
    def _name_is_required(cls, value: str | None) -> str:
        # Optional in a PATCH, but a business always has a name: null cannot clear it.
        if value is None:
            raise ValueError("name cannot be null")
        return value


class AIConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    customPrompt: str = Field(default="", max_length=8000)
    tone: str = Field(default="friendly", min_length=1, max_length=50)
    language: str = Field(default="en", min_length=2, max_length=20)
    prohibitedTopics: list[str] = Field(default_factory=list, max_length=50)
    fallbackMessage: str = Field(
        default="Sorry, I can't answer that right now. Let me connect you with a human.",
        min_length=1,
        max_length=1000,
    )


class Credits(BaseModel):
    totalCredits: float
    usedCredits: float
    availableCredits: float
    monthlyBudget: float | None
    currentMonthSpend: float
    percentUsed: int
    isPaused: bool


class BudgetUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    monthlyBudget: float | None = Field(ge=0, le=1_000_000)
