"""One validator per provider: it asks the provider whether the credentials work, before
anything is saved (the HTTP calls are the clients' in backend/integrations/<vendor>/).

A validator answers what the provider told us worth keeping (`Checked.settings`, stored with
the connection) and worth answering once (`Checked.details`). It raises `KeyRefused` (400,
naming the fields) when the provider refuses the credentials, and `ProviderUnavailable` (502)
when the provider cannot say: either way nothing is saved. A new provider adds a class here
and an entry in `VALIDATORS`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from backend.connections.schemas import Provider
from backend.errors import ProviderUnavailable, ValidationFailed, VoxtroError
from backend.integrations.bolna import client as bolna
from backend.integrations.elevenlabs import client as elevenlabs
from backend.integrations.openai.client import InvalidKey as OpenAIInvalidKey
from backend.integrations.openai.client import OpenAIError
from backend.integrations.vapi import client as vapi
from backend.integrations.whatsapp.client import GraphError, WhatsAppUnavailable
from backend.kit.safe_http import require_fetchable

if TYPE_CHECKING:  # the context builds the engine, which reads connections
    from backend.context import AppContext


class KeyRefused(ValidationFailed):
    """The provider refused the credentials (or they could never work): nothing is saved."""


@dataclass(frozen=True)
class Checked:
    settings: dict[str, Any] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)


class Validator(Protocol):
    @property
    def provider(self) -> Provider: ...

    @property
    def main(self) -> str:
        """The secret whose last four characters are shown."""

    @property
    def unchecked(self) -> str:
        """Added to the provider's outage message when the key could not be checked ("" when
        the client's message already says it all)."""

    async def check(
        self, context: AppContext, secrets: Mapping[str, str], settings: Mapping[str, Any]
    ) -> Checked: ...


class OpenAIKey:
    provider = Provider.OPENAI
    main = "api_key"
    unchecked = " The key was not checked"

    async def check(
        self, context: AppContext, secrets: Mapping[str, str], settings: Mapping[str, Any]
    ) -> Checked:
        try:
            models = await context.openai.list_models(secrets["api_key"])
        except OpenAIInvalidKey as exc:
            raise KeyRefused(
                "OpenAI refused this key", errors=[{"field": "api_key", "message": "invalid key"}]
            ) from exc
        except OpenAIError as exc:
            raise ProviderUnavailable(str(exc)) from exc
        return Checked(settings={"models": models})


class CommerceAPI:
    """The merchant's own API has no key check of its own: the URL must be one we may fetch."""

    provider = Provider.COMMERCE
    main = "api_key"
    unchecked = ""

    async def check(
        self, context: AppContext, secrets: Mapping[str, str], settings: Mapping[str, Any]
    ) -> Checked:
        await require_fetchable(context.http, settings["base_url"], field="base_url")
        return Checked()


def _vapi(context: AppContext, key: str) -> vapi.VapiClient:
    return vapi.VapiClient(key, base_url=context.settings.vapi_base_url)


class VapiKeys:
    """The private key reaches VAPI's server API; the public key goes to browsers (Web SDK)."""

    provider = Provider.VAPI
    main = "private_key"
    unchecked = ""
    # What `valid: true` can honestly mean for a public key (see `public_key_problem`).
    PUBLIC_KEY_CHECKED = (
        "A VAPI key that is not a private key; VAPI itself checks a public key only when a"
        " browser call starts"
    )

    async def public_key_problem(self, context: AppContext, public_key: str) -> str | None:
        """Why this is not a usable public key, or None.

        VAPI has no verified server-side endpoint that accepts a public key without starting a
        (billed) web call, so the check is: it has the key format, and it is *not* a private
        key, which VAPI's server API would accept (a private key in the browser leaks the
        account)."""
        if not vapi.looks_like_key(public_key):
            return "not a VAPI public key (expected a UUID like 1a2b3c4d-…)"
        try:
            async with _vapi(context, public_key) as client:
                await client.check_key()
        except vapi.InvalidKey:
            return None
        except vapi.VapiError as exc:
            raise ProviderUnavailable(str(exc)) from exc
        return "this is a private key: it must not be given to browsers"

    async def check(
        self, context: AppContext, secrets: Mapping[str, str], settings: Mapping[str, Any]
    ) -> Checked:
        private_key, public_key = secrets["private_key"], secrets["public_key"]
        errors: list[dict[str, str]] = []
        try:
            async with _vapi(context, private_key) as client:
                await client.check_key()
        except vapi.InvalidKey:
            errors.append(
                {
                    "field": "private_key",
                    "message": "VAPI refused this key as a private (server) key",
                }
            )
        except vapi.VapiError as exc:
            raise ProviderUnavailable(str(exc)) from exc
        if public_key == private_key:
            errors.append({"field": "public_key", "message": "the public key is the private key"})
        elif problem := await self.public_key_problem(context, public_key):
            errors.append({"field": "public_key", "message": problem})
        if errors:
            raise KeyRefused(
                "Invalid VAPI " + " and ".join(e["field"].replace("_", " ") for e in errors),
                errors=errors,
            )
        return Checked(settings={"public_key_last4": public_key[-4:]})


# What an HTTP header can carry; anything else is no ElevenLabs key (`sk_…`), and not sent.
_ELEVENLABS_KEY = re.compile(r"[\x21-\x7e]{8,200}")


class ElevenLabsKey:
    provider = Provider.ELEVENLABS
    main = "api_key"
    unchecked = ""

    async def check(
        self, context: AppContext, secrets: Mapping[str, str], settings: Mapping[str, Any]
    ) -> Checked:
        """Settings: the subscription as last seen, None when the key may not read it (a key
        without the `user_read` permission is still a valid key). Details: the account (`user`)
        and, for such a key, why the subscription is not shown (`scope_problem`)."""
        api_key = secrets["api_key"]
        if not _ELEVENLABS_KEY.fullmatch(api_key):
            raise KeyRefused(
                "This is not an ElevenLabs API key",
                errors=[{"field": "api_key", "message": "not an ElevenLabs API key"}],
            )
        client = elevenlabs.ElevenLabsClient(api_key, base_url=context.settings.elevenlabs_base_url)
        user: dict[str, Any] | None = None
        scope_problem = None
        try:
            async with client:
                user = await client.get_user()
                if not isinstance(user.get("subscription"), dict):
                    user = {**user, "subscription": await client.get_subscription()}
        except elevenlabs.MissingPermissions as exc:
            user, scope_problem = None, str(exc)
        except elevenlabs.InvalidKey as exc:
            raise KeyRefused(
                f"ElevenLabs refused this API key: {exc}",
                errors=[{"field": "api_key", "message": str(exc)}],
            ) from exc
        except elevenlabs.ElevenLabsError as exc:
            raise ProviderUnavailable(str(exc)) from exc
        subscription = user["subscription"] if user else None
        tier = subscription.get("tier") if subscription else None
        return Checked(
            settings={
                "subscription": subscription,
                "subscription_tier": str(tier)[:100] if tier else None,
            },
            details={"user": user, "scope_problem": scope_problem},
        )


class BolnaKey:
    """The key (`GET /user/me`) and the agent that makes the calls (`settings["agent_id"]`)."""

    provider = Provider.BOLNA
    main = "api_key"
    unchecked = ""

    async def check(
        self, context: AppContext, secrets: Mapping[str, str], settings: Mapping[str, Any]
    ) -> Checked:
        try:
            async with bolna.BolnaClient(
                secrets["api_key"], base_url=context.settings.bolna_base_url
            ) as client:
                agent = await self._agent(client, settings["agent_id"])
        except bolna.BolnaError as exc:  # what is left: Bolna down, or answering nonsense
            raise ProviderUnavailable(str(exc)) from exc
        name = agent.get("agent_name")
        return Checked(settings={"agent_name": name[:200] if isinstance(name, str) else None})

    @staticmethod
    async def _agent(client: bolna.BolnaClient, agent_id: str) -> dict[str, Any]:
        try:
            await client.me()
        except bolna.InvalidKey as exc:
            raise KeyRefused(
                "Bolna refused this API key",
                errors=[{"field": "api_key", "message": f"refused by Bolna: {exc}"}],
            ) from exc
        try:
            return await client.get_agent(agent_id)
        except (bolna.BolnaNotFound, bolna.BolnaValidationError, bolna.InvalidKey) as exc:
            # 403 here: the key is good (`/user/me` passed) but the agent is another account's.
            raise KeyRefused(
                "Bolna has no such agent on this account",
                errors=[{"field": "agent_id", "message": f"not an agent of this account: {exc}"}],
            ) from exc


def _meta(value: Any, limit: int) -> str | None:
    return value[:limit] if isinstance(value, str) and value else None


class WhatsAppNumber:
    """A WhatsApp business phone number and the access token that sends from it: Meta is asked
    for the number with that token. Settings: `phone_number_id`, and `business_account_id` when
    one is to be checked too (its templates are listed with the same token). Errors name the
    fields `access_token`, `phone_number_id` and `business_account_id`; a caller with other
    names for them (the bot's primary and marketing numbers) renames them."""

    provider = Provider.WHATSAPP
    main = "access_token"
    unchecked = ""

    async def check(
        self, context: AppContext, secrets: Mapping[str, str], settings: Mapping[str, Any]
    ) -> Checked:
        phone_number_id = settings["phone_number_id"]
        business_account_id = settings.get("business_account_id")
        graph = context.whatsapp.client(secrets["access_token"])
        try:
            number = await graph.phone_number(phone_number_id)
        except GraphError as exc:
            raise self._refused(
                exc, "phone_number_id", "not a phone number of this token's business"
            ) from exc
        except WhatsAppUnavailable as exc:
            raise ProviderUnavailable(exc.message) from exc
        if business_account_id:
            try:
                await graph.templates(business_account_id)
            except GraphError as exc:
                # The token sends from the number: a refusal here is the account's.
                raise self._refused(
                    exc,
                    "business_account_id",
                    "not a WhatsApp Business Account this token may read",
                    token_field="business_account_id",
                ) from exc
            except WhatsAppUnavailable as exc:
                raise ProviderUnavailable(exc.message) from exc
        throughput = number.get("throughput")
        level = throughput.get("level") if isinstance(throughput, dict) else None
        return Checked(
            settings={
                "phone_number_id": phone_number_id,
                "display_phone_number": _meta(number.get("display_phone_number"), 40),
                "verified_name": _meta(number.get("verified_name"), 200),
                "quality_rating": _meta(number.get("quality_rating"), 20),
                "throughput": _meta(level, 40),
            }
        )

    @staticmethod
    def _refused(
        exc: GraphError, field: str, meaning: str, *, token_field: str = "access_token"
    ) -> VoxtroError:
        """Meta's refusal as ours: the token's (expired, revoked, no permission), the id's
        (unknown, another business's), or Meta's own trouble (502: nothing said of either)."""
        if exc.retryable or exc.code is None:
            return ProviderUnavailable(
                f"The WhatsApp Cloud API could not check it: {exc.describe()}"
            )
        if exc.token_refused:
            return KeyRefused(
                f"WhatsApp refused this access token: {exc.describe()}",
                errors=[{"field": token_field, "message": f"refused by Meta: {exc.title}"}],
            )
        return KeyRefused(
            f"WhatsApp does not know this id for this token: {exc.describe()}",
            errors=[{"field": field, "message": f"{meaning} ({exc.title})"}],
        )


VAPI = VapiKeys()
VALIDATORS: dict[Provider, Validator] = {
    v.provider: v
    for v in (OpenAIKey(), CommerceAPI(), VAPI, ElevenLabsKey(), BolnaKey(), WhatsAppNumber())
}
