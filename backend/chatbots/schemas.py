from __future__ import annotations

import re
from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from jsonschema import Draft202012Validator, SchemaError
from pydantic import BaseModel, ConfigDict, Field, field_validator

_COLOR = r"^#[0-9a-fA-F]{6}$"
# http(s), with `{placeholders}` allowed only after the host: the model fills them in.
_URL_TEMPLATE = r"^https?://[^/{}?#]+([/?#].*)?$"
_DOMAIN = re.compile(r"^(\*\.)?[a-z0-9-]+(\.[a-z0-9-]+)*(:\d+)?$")


class Theme(BaseModel):
    primary_color: str = Field(default="#6366f1", pattern=_COLOR)
    secondary_color: str = Field(default="#ffffff", pattern=_COLOR)
    position: Literal["bottom-right", "bottom-left"] = "bottom-right"
    avatar: str | None = Field(default=None, max_length=2000, pattern=r"^https?://")


class _ChatbotFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    description: str | None = Field(default=None, max_length=1000)
    system_prompt: str | None = Field(default=None, max_length=20000)
    model: str | None = Field(default=None, min_length=1, max_length=100)
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=16000)
    first_message: str | None = Field(default=None, max_length=2000)
    placeholder_text: str | None = Field(default=None, max_length=200)
    theme: Theme | None = None
    allowed_domains: list[str] | None = Field(default=None, max_length=50)
    is_active: bool | None = None
    knowledge_base: str | None = Field(default=None, max_length=200_000)

    @field_validator("allowed_domains")
    @classmethod
    def _domains(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        cleaned = [d.strip().lower() for d in value if d.strip()]
        for domain in cleaned:
            if not _DOMAIN.match(domain):
                raise ValueError(f"'{domain}' is not a host name (like shop.example.com)")
        return cleaned


class ChatbotCreate(_ChatbotFields):
    name: str = Field(min_length=1, max_length=100)


class ChatbotUpdate(_ChatbotFields):
    name: str | None = Field(default=None, min_length=1, max_length=100)


class Chatbot(BaseModel):
    id: UUID
    workspace_id: UUID
    name: str
    description: str
    system_prompt: str
    model: str
    temperature: float
    max_tokens: int
    first_message: str
    placeholder_text: str
    theme: Theme
    allowed_domains: list[str]
    is_active: bool
    knowledge_base: str
    created_at: datetime
    updated_at: datetime


class FaqCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, max_length=1000)
    answer: str = Field(min_length=1, max_length=10000)
    question_variants: list[str] = Field(default_factory=list, max_length=20)
    category: str | None = Field(default=None, max_length=100)
    is_active: bool = True


class FaqUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str | None = Field(default=None, min_length=1, max_length=1000)
    answer: str | None = Field(default=None, min_length=1, max_length=10000)
    question_variants: list[str] | None = Field(default=None, max_length=20)
    category: str | None = Field(default=None, max_length=100)
    is_active: bool | None = None


class Faq(BaseModel):
    id: UUID
    chatbot_id: UUID
    question: str
    answer: str
    question_variants: list[str]
    category: str | None
    is_active: bool
    created_at: datetime
    updated_at: datetime


class FormField(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-zA-Z_][a-zA-Z0-9_]{0,63}$")
    label: str = Field(min_length=1, max_length=200)
    type: Literal["text", "email", "phone", "textarea", "number", "select", "checkbox", "date"] = (
        "text"
    )
    required: bool = False
    options: list[str] | None = Field(default=None, max_length=100)
    placeholder: str | None = Field(default=None, max_length=200)


def _check_fields(fields: list[FormField]) -> list[FormField]:
    names = [f.name for f in fields]
    if len(names) != len(set(names)):
        raise ValueError("field names must be unique")
    for f in fields:
        if f.type == "select" and not f.options:
            raise ValueError(f"select field '{f.name}' needs options")
    return fields


class FormCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100)
    title: str = Field(default="", max_length=200)
    description: str = Field(default="", max_length=2000)
    fields: list[FormField] = Field(min_length=1, max_length=50)
    submit_message: str = Field(default="Thank you! We will be in touch.", max_length=1000)
    is_active: bool = True

    @field_validator("fields")
    @classmethod
    def _fields(cls, fields: list[FormField]) -> list[FormField]:
        return _check_fields(fields)


class FormUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=100)
    title: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=2000)
    fields: list[FormField] | None = Field(default=None, min_length=1, max_length=50)
    submit_message: str | None = Field(default=None, max_length=1000)
    is_active: bool | None = None

    @field_validator("fields")
    @classmethod
    def _fields(cls, fields: list[FormField] | None) -> list[FormField] | None:
        return None if fields is None else _check_fields(fields)


class Form(BaseModel):
    id: UUID
    chatbot_id: UUID
    name: str
    title: str
    description: str
    fields: list[FormField]
    submit_message: str
    is_active: bool
    created_at: datetime
    updated_at: datetime


def _check_parameters_schema(schema: dict[str, Any]) -> dict[str, Any]:
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise ValueError(f"not a valid JSON schema: {exc.message}") from exc
    if schema.get("type") != "object":
        raise ValueError('the arguments schema must have "type": "object"')
    return schema


_HEADER_NAME = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")


def _check_headers(headers: dict[str, str]) -> dict[str, str]:
    # Sent with every call of the action: what HTTP cannot carry is refused when saved.
    for name, value in headers.items():
        if not _HEADER_NAME.match(name):
            raise ValueError(f"'{name[:100]}' is not an HTTP header name")
        if len(value) > 4000 or not all(" " <= c <= "~" or c == "\t" for c in value):
            raise ValueError(f"the value of '{name}' must be printable ASCII, 4000 at most")
    return headers


class ActionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str = Field(default="", max_length=1000)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] = "GET"
    url_template: str = Field(pattern=_URL_TEMPLATE, max_length=2000)
    headers: dict[str, str] = Field(default_factory=dict, max_length=20)
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    is_active: bool = True

    @field_validator("parameters")
    @classmethod
    def _schema(cls, value: dict[str, Any]) -> dict[str, Any]:
        return _check_parameters_schema(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str]) -> dict[str, str]:
        return _check_headers(value)


class ActionUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, pattern=r"^[a-zA-Z0-9_-]{1,64}$")
    description: str | None = Field(default=None, max_length=1000)
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"] | None = None
    url_template: str | None = Field(default=None, pattern=_URL_TEMPLATE, max_length=2000)
    headers: dict[str, str] | None = Field(default=None, max_length=20)
    parameters: dict[str, Any] | None = None
    is_active: bool | None = None

    @field_validator("parameters")
    @classmethod
    def _schema(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        return None if value is None else _check_parameters_schema(value)

    @field_validator("headers")
    @classmethod
    def _headers(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        return None if value is None else _check_headers(value)


class Action(BaseModel):
    id: UUID
    chatbot_id: UUID
    name: str
    description: str
    method: str
    url_template: str
    header_names: list[str]  # values are secrets: stored encrypted, never shown again
    parameters: dict[str, Any]
    is_active: bool
    created_at: datetime
    updated_at: datetime
