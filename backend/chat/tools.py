"""The tools a chatbot's model may call: the bot's own HTTP actions, the merchant's product and
order API (when connected), lead capture and hand-off to a human.

Arguments the model writes are checked against each tool's JSON schema before anything runs;
a failure is told to the model as the tool's result, so the visitor still gets an answer.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx
from email_validator import EmailNotValidError, validate_email
from jsonschema import Draft202012Validator

from backend.integrations.commerce.client import CommerceClient, CommerceError
from backend.integrations.openai.client import ToolCall
from backend.kit.crypto import SecretBox
from backend.kit.network_errors import service_at, unreachable
from backend.kit.safe_http import SafeHTTPClient, SafeHTTPError, UnsafeURLError

MAX_RESULT_CHARS = 4000

_LEAD = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 200},
        "email": {"type": "string", "maxLength": 320},
        "phone": {"type": "string", "maxLength": 40},
        "company": {"type": "string", "maxLength": 200},
        "notes": {"type": "string", "maxLength": 2000},
    },
    "additionalProperties": False,
    "anyOf": [{"required": ["email"]}, {"required": ["phone"]}],
}
_LEAD_FIELDS = ("name", "email", "phone", "company", "notes")
_HANDOFF = {
    "type": "object",
    "properties": {"reason": {"type": "string", "maxLength": 500}},
    "required": ["reason"],
}
# Order details are personal: offered only to people the channel vouches for.
ORDER_TOOLS = frozenset({"get_order", "get_orders_by_phone"})
_COMMERCE_TOOLS: dict[str, tuple[str, dict[str, Any]]] = {
    "search_products": (
        "Search the store's products.",
        {
            "type": "object",
            "properties": {
                "search": {"type": "string"},
                "category": {"type": "string"},
                "min_price": {"type": "number"},
                "max_price": {"type": "number"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 20},
            },
        },
    ),
    "get_product": (
        "Details of one product by its id.",
        {
            "type": "object",
            "properties": {"product_id": {"type": "string"}},
            "required": ["product_id"],
        },
    ),
    "get_order": (
        "An order's status, items, payment and shipping by its order id.",
        {
            "type": "object",
            "properties": {"order_id": {"type": "string"}},
            "required": ["order_id"],
        },
    ),
    "get_orders_by_phone": (
        "The recent orders placed with a phone number.",
        {
            "type": "object",
            "properties": {
                "phone": {"type": "string"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 10},
            },
            "required": ["phone"],
        },
    ),
}
BUILTIN_TOOL_NAMES = frozenset({"capture_lead", "handoff_to_human", *_COMMERCE_TOOLS})


@dataclass
class ToolOutcome:
    content: str  # what the model reads
    action: dict[str, Any]  # what the client sees in `actions`
    lead: dict[str, Any] | None = None
    escalate: bool = False


@dataclass
class _Tool:
    name: str
    description: str
    parameters: dict[str, Any]
    action: dict[str, Any] | None = None  # a bot action row
    validator: Draft202012Validator = field(init=False)

    def __post_init__(self) -> None:
        self.validator = Draft202012Validator(self.parameters)

    def definition(self) -> dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": self.name,
                "description": self.description,
                "parameters": self.parameters,
            },
        }


def _trim(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= MAX_RESULT_CHARS else text[:MAX_RESULT_CHARS] + "…(truncated)"


def _render_url(template: str, arguments: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Fill `{name}` placeholders (URL-encoded); the arguments not used there are returned."""
    used: set[str] = set()

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        used.add(name)
        return quote(str(arguments.get(name, "")), safe="")

    url = re.sub(r"\{(\w+)\}", fill, template)
    return url, {k: v for k, v in arguments.items() if k not in used}


class Toolbox:
    def __init__(
        self,
        *,
        actions: list[dict[str, Any]],
        commerce: CommerceClient | None,
        http: SafeHTTPClient,
        secrets: SecretBox,
        orders: bool = True,
        order_owner: str | None = None,
    ) -> None:
        self._http = http
        self._secrets = secrets
        self._commerce = commerce
        # The national digits of the phone whose orders may be looked up; None: any (an
        # integration's own server asks).
        self._order_owner = order_owner
        tools = [
            _Tool(
                "capture_lead",
                "Save the visitor's contact details when they share them and want "
                "to be contacted (an e-mail or a phone number is required).",
                _LEAD,
            ),
            _Tool(
                "handoff_to_human",
                "Hand the conversation to a human agent when the visitor asks "
                "for one or you cannot help.",
                _HANDOFF,
            ),
        ]
        if commerce is not None:
            tools += [
                _Tool(name, desc, schema)
                for name, (desc, schema) in _COMMERCE_TOOLS.items()
                if orders or name not in ORDER_TOOLS
            ]
        for row in actions:
            if row["name"] not in BUILTIN_TOOL_NAMES:
                tools.append(
                    _Tool(row["name"], row["description"] or row["name"], row["parameters"], row)
                )
        self._tools = {t.name: t for t in tools}

    def definitions(self) -> list[dict[str, Any]]:
        return [t.definition() for t in self._tools.values()]

    async def run(self, call: ToolCall) -> ToolOutcome:
        tool = self._tools.get(call.name)
        record: dict[str, Any] = {"type": "tool_call", "name": call.name}
        if tool is None:
            return ToolOutcome(
                f"error: there is no tool named {call.name}", {**record, "status": "error"}
            )
        try:
            arguments = json.loads(call.arguments or "{}")
        except json.JSONDecodeError:
            return ToolOutcome(
                "error: the arguments are not valid JSON", {**record, "status": "error"}
            )
        if not isinstance(arguments, dict):
            return ToolOutcome(
                "error: the arguments must be a JSON object", {**record, "status": "error"}
            )
        problems = [e.message for e in tool.validator.iter_errors(arguments)]
        record["arguments"] = arguments
        if problems:
            return ToolOutcome(
                "error: invalid arguments: " + "; ".join(problems[:5]),
                {**record, "status": "error"},
            )
        if call.name == "capture_lead":
            return self._capture_lead(arguments, record)
        if call.name == "handoff_to_human":
            return ToolOutcome(
                "The conversation was handed to a human agent; tell the visitor.",
                {"type": "handoff", "reason": arguments["reason"], "status": "ok"},
                escalate=True,
            )
        if call.name in _COMMERCE_TOOLS:
            return await self._commerce_call(call.name, arguments, record)
        assert tool.action is not None
        return await self._http_action(tool.action, arguments, record)

    def _capture_lead(self, arguments: dict[str, Any], record: dict[str, Any]) -> ToolOutcome:
        # Only the lead's own fields, whatever else the model (or a page it read) put there.
        lead = {
            k: str(arguments[k]).strip() for k in _LEAD_FIELDS if str(arguments.get(k, "")).strip()
        }
        if "email" in lead:
            try:
                lead["email"] = validate_email(lead["email"], check_deliverability=False).normalized
            except EmailNotValidError:
                return ToolOutcome(
                    "error: that e-mail address is not valid; ask the visitor again",
                    {**record, "status": "error"},
                )
        if "phone" in lead and len(re.sub(r"\D", "", lead["phone"])) < 7:
            return ToolOutcome(
                "error: that phone number is too short; ask the visitor again",
                {**record, "status": "error"},
            )
        return ToolOutcome(
            "Saved. Thank the visitor; the team will be in touch.",
            {"type": "lead_captured", "status": "ok"},
            lead=lead,
        )

    async def _commerce_call(
        self, name: str, arguments: dict[str, Any], record: dict[str, Any]
    ) -> ToolOutcome:
        assert self._commerce is not None
        try:
            if name == "search_products":
                result = await self._commerce.search_products(**arguments)
            elif name == "get_product":
                result = await self._commerce.product(arguments["product_id"])
            elif name == "get_order":
                result = await self._commerce.order(arguments["order_id"])
                if not self._owns(result):
                    return ToolOutcome(
                        "error: this order was placed with another phone number; say you can"
                        " only look up orders placed with the customer's own number",
                        {**record, "status": "error"},
                    )
            else:
                # Someone's own orders only, whatever number the model passed.
                phone = self._order_owner or arguments["phone"]
                result = await self._commerce.orders_by_phone(phone, arguments.get("limit", 5))
        except CommerceError as exc:
            return ToolOutcome(f"error: {exc}", {**record, "status": "error"})
        return ToolOutcome(_trim(result), {**record, "status": "ok"})

    def _owns(self, result: dict[str, Any]) -> bool:
        if self._order_owner is None:
            return True
        order = result.get("order") if isinstance(result, dict) else None
        phone = "".join(c for c in str((order or {}).get("phone") or "") if c.isdigit())
        return bool(phone) and phone.endswith(self._order_owner)

    async def _http_action(
        self, action: dict[str, Any], arguments: dict[str, Any], record: dict[str, Any]
    ) -> ToolOutcome:
        url, rest = _render_url(action["url_template"], arguments)
        headers = (
            json.loads(self._secrets.decrypt(action["encrypted_headers"]))
            if action["encrypted_headers"]
            else {}
        )
        method = action["method"]
        try:
            response = await self._http.request(
                method,
                url,
                headers=headers,
                params=rest if method in {"GET", "DELETE"} else None,
                json=rest if method not in {"GET", "DELETE"} else None,
            )
        except (SafeHTTPError, httpx.HTTPError) as exc:
            reason = (
                f"the address is not allowed ({exc.reason})"
                if isinstance(exc, UnsafeURLError)
                else unreachable(service_at("the action's server", url), exc)
            )
            return ToolOutcome(f"error: {reason}", {**record, "status": "error"})
        status = "ok" if response.status_code < 400 else "error"
        return ToolOutcome(
            _trim(f"HTTP {response.status_code}\n{response.text()}"),
            {**record, "status": status, "http_status": response.status_code},
        )
