"""The omnichannel document's Business API shapes (camelCase, as documented)."""

from __future__ import annotations

from zoneinfo import available_timezones

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

from backend.kit.phones import country_code


class BusinessProfile(BaseModel):
    id: str
    name: str
    email: str | None
    phone: str | None
    industry: str | None
    timeZone: str  # the days of the dashboards (an IANA name; not in the omnichannel document)
    # Where phone numbers without a country code are read (ISO 3166-1 alpha-2; not in the
    # omnichannel document): the one set, else the country of `phone`; null when neither is.
    country: str | None
    active: bool  # false while paused: budget spent, credits used up, payment failed
    createdAt: str


class BusinessProfileUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    email: EmailStr | None = Field(default=None, max_length=320)  # null clears it
    phone: str | None = Field(default=None, max_length=32)
    industry: str | None = Field(default=None, max_length=100)
    timeZone: str | None = Field(default=None, max_length=64)
    country: str | None = Field(default=None, max_length=8)  # null: the country of `phone`

    @field_validator("country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return country_code(value) if value is not None else None

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
    usedCredits: float  # charged in prepaid mode only (see backend/billing/service.py)
    availableCredits: float  # total - used: below zero when the last call overdrew them
    monthlyBudget: float | None  # null: no budget
    currentMonthSpend: float  # every mode's spend this month (UTC), previews included
    percentUsed: int  # of the monthly budget (0 without one)
    isPaused: bool  # model calls are refused: budget spent, credits used up, payment failed


class BudgetAlert(BaseModel):
    threshold: int  # percent of the monthly budget: 80 or 100
    month: str  # YYYY-MM
    spend: float  # the month's spend when it was recorded
    budget: float
    createdAt: str


class BudgetUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    monthlyBudget: float | None = Field(ge=0, le=1_000_000)
