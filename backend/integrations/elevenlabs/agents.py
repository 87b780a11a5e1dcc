"""ElevenLabs' conversational agents (providers.md §3): where an agent keeps the fields we
show and edit, read into our `whatsapp_agents` columns, and the PATCH body that changes them."""

from __future__ import annotations

import copy
from typing import Any

from backend.kit import payloads

# Our field -> where ElevenLabs keeps it, in an agent and in a PATCH body alike.
UPSTREAM_PATHS: dict[str, tuple[str, ...]] = {
    "name": ("name",),
    "first_message": ("conversation_config", "agent", "first_message"),
    "language": ("conversation_config", "agent", "language"),
    "system_prompt": ("conversation_config", "agent", "prompt", "prompt"),
    "llm": ("conversation_config", "agent", "prompt", "llm"),
}
_OUR_FIELDS = {".".join(path): field for field, path in UPSTREAM_PATHS.items()}


def our_field(path: str) -> str:
    """Our name for a field ElevenLabs names by its path (`conversation_config.agent.language`
    is `language`); a path we do not edit keeps its own."""
    return _OUR_FIELDS.get(path, path)


def _at(obj: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        obj = obj.get(key) if isinstance(obj, dict) else None
    return obj


def _phone_numbers(agent: dict[str, Any]) -> list[dict[str, Any]] | None:
    numbers = agent.get("phone_numbers")
    if not isinstance(numbers, list):
        return None
    keys = ("phone_number", "label", "provider", "phone_number_id")
    return [
        {k: n.get(k) for k in keys}
        for n in numbers
        if isinstance(n, dict) and isinstance(n.get("phone_number"), str)
    ]


def local_fields(agent: dict[str, Any]) -> dict[str, Any]:
    def text(field: str, limit: int | None = None) -> str | None:
        return payloads.text(_at(agent, UPSTREAM_PATHS[field]), limit)

    return {
        "agent_id": str(agent["agent_id"]),
        "name": str(agent.get("name") or ""),
        "first_message": text("first_message"),
        "system_prompt": text("system_prompt"),
        "language": text("language", 20),
        "llm": text("llm", 100),
        "phone_numbers": _phone_numbers(agent),
        "raw": agent,
    }


def upstream_body(agent: dict[str, Any] | None, changes: dict[str, Any]) -> dict[str, Any]:
    """The PATCH body for `changes`: `name` alone, and the agent's whole `conversation_config`
    (as `agent` has it, from a GET just before) with our changes merged into its `agent`
    subtree. ElevenLabs may replace the nested objects a PATCH gives rather than merge them
    (unverified, providers.md §3); sent whole, nothing we do not change (the LLM, tools,
    knowledge base, voice …) can be wiped either way."""
    body: dict[str, Any] = {}
    config: dict[str, Any] | None = None
    for field, value in changes.items():
        if field not in UPSTREAM_PATHS:
            continue
        path = UPSTREAM_PATHS[field]
        if path[0] != "conversation_config":
            body[path[0]] = value
            continue
        if config is None:
            current = agent.get("conversation_config") if agent else None
            config = copy.deepcopy(current) if isinstance(current, dict) else {}
            body["conversation_config"] = config
        *parents, leaf = path[1:]
        node = config
        for key in parents:
            child = node.get(key)
            if not isinstance(child, dict):
                child = node[key] = {}
            node = child
        node[leaf] = value
    return body


def needs_current(changes: dict[str, Any]) -> bool:
    return any(UPSTREAM_PATHS.get(f, ("",))[0] == "conversation_config" for f in changes)
