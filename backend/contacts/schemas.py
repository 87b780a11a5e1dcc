"""Contacts as the bot builder's `/flows/contacts/` reads and writes them (its field names:
`phone`, `first_name`, `last_name`, `email`, custom attributes), in the platform's envelope."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, field_validator

# The channels a contact is seen on (`conversations.channel`'s values).
Channel = Literal["whatsapp", "widget", "voice", "portal", "api"]

_ATTRIBUTE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,49}$")

# Flows put attributes into messages (`{{contact.plan}}`): plain values only.
AttributeValue = (
    Annotated[str, Field(max_length=1000)]
    | bool
    | int
    | Annotated[float, Field(allow_inf_nan=False)]
    | None
)


class ContactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    phone: str = Field(
        min_length=1,
        max_length=40,
        description="E.164 (`+919876543210`), or a national number of the workspace's country",
    )
    first_name: str | None = Field(default=None, max_length=100)
    last_name: str | None = Field(default=None, max_length=100)
    email: EmailStr | None = None
    attributes: dict[str, AttributeValue] = Field(
        default_factory=dict,
        max_length=50,
        description="custom attributes, read by flows: names of letters, digits and `_`",
    )
    marketing_opt_in: bool = Field(
        default=False, description="marketing consent given, recorded with the source `api`"
    )

    @field_validator("first_name", "last_name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("attributes")
    @classmethod
    def _attribute_names(cls, value: dict[str, Any]) -> dict[str, Any]:
        bad = [name for name in value if not _ATTRIBUTE_NAME.match(name)]
        if bad:
            raise ValueError(
                "attribute names are 1 to 50 letters, digits or `_`, not starting with a digit"
            )
        return value


class ContactIdentity(BaseModel):
    channel: str
    external_id: str
    profile_name: str | None


class Contact(BaseModel):
    id: UUID
    phone: str | None
    first_name: str | None
    last_name: str | None
    email: str | None
    attributes: dict[str, Any]
    marketing_opt_in: bool
    opt_in_changed_at: datetime | None
    opt_in_source: str | None
    customer_id: UUID | None = Field(
        description="the workspace's customer with this phone or e-mail"
    )
    identities: list[ContactIdentity] = Field(description="the ids it was seen under, per channel")
    last_inbound_at: dict[str, datetime] = Field(description="when it last wrote, per channel")
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, row: dict[str, Any]) -> Contact:
        return cls(
            id=row["id"],
            phone=row["phone"],
            first_name=row["first_name"],
            last_name=row["last_name"],
            email=row["email"],
            attributes=row["attributes"],
            marketing_opt_in=row["marketing_opt_in"],
            opt_in_changed_at=row["opt_in_changed_at"],
            opt_in_source=row["opt_in_source"],
            customer_id=row["customer_id"],
            identities=[ContactIdentity(**i) for i in row["identities"]],
            last_inbound_at=row["last_inbound_at"],
            created_at=row["created_at"],
            updated_at=row["updated_at"],
        )
