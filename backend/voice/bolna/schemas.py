from __future__ import annotations

from datetime import datetime
from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field, field_validator

from backend.kit.phones import country_code, to_e164
from backend.kit.schemas import ProviderKey


class BolnaConnect(BaseModel):
    api_key: ProviderKey = Field(min_length=8, max_length=200)
    agent_id: str = Field(min_length=1, max_length=100, description="makes confirmation calls")
    from_phone_number: str | None = Field(
        default=None, description="caller id, E.164; default: the Bolna account's number"
    )
    default_country: str | None = Field(
        default=None,
        description="ISO country whose national numbers ('9876543210') the shop sends; default:"
        " the country of the workspace's own phone number, else IN",
    )
    rotate_webhook_url: bool = Field(
        default=False, description="issue a new webhook URL (the old one stops working)"
    )

    @field_validator("api_key", "agent_id")
    @classmethod
    def _strip(cls, value: str) -> str:
        return value.strip()

    @field_validator("from_phone_number")
    @classmethod
    def _e164(cls, value: str | None) -> str | None:
        return to_e164(value) if value else None

    @field_validator("default_country")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        return None if value is None else country_code(value)


class BolnaConnection(BaseModel):
    connected: bool
    status: Literal["valid", "invalid"] | None = None
    api_key_last4: str | None = None
    agent_id: str | None = None
    agent_name: str | None = None
    from_phone_number: str | None = None
    default_country: str | None = None
    validated_at: datetime | None = None
    last_error: str | None = None
    # `{base_url}/api/webhooks/bolna/{token}`, for the agent's "Push all execution data to
    # webhook". The token in it is the credential: shown in the answer that created it only.
    webhook_url: str | None = None


class OrderItem(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    qty: int = Field(default=1, ge=1, le=100_000)
    price: float | None = Field(default=None, ge=0, allow_inf_nan=False)


class ConfirmOrder(BaseModel):
    """The CHICX integration guide §2.5 request."""

    phone: str = Field(min_length=1, max_length=32, description="national or +international")
    order_id: str = Field(min_length=1, max_length=100)
    customer_name: str | None = Field(default=None, max_length=200)
    items: list[OrderItem] = Field(default_factory=list, max_length=200)
    total_amount: float = Field(ge=0, allow_inf_nan=False)
    cod: bool = False
    delivery_address: str | None = Field(default=None, max_length=1000)


class ConfirmationCall(BaseModel):
    """The CHICX integration guide §2.5 response, and Bolna's own id for the call."""

    status: Literal["ok"] = "ok"
    message: str
    order_id: str
    call_id: UUID = Field(description="the call in `/api/stats/calls/{call_id}`")
    phone: str = Field(
        description="the number called, as the request that placed the call gave it (a repeated"
        " request answers the number of the call already placed)"
    )
    execution_id: str = Field(description="Bolna's execution id for the call")
