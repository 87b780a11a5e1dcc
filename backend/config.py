"""One typed settings object, read from the environment (and `.env` in development)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from backend.kit.requests import proxy_networks

# Values that must never guard a production deployment.
_PLACEHOLDER_SECRETS = {"", "changeme", "secret", "super-secret", "your-super-secret-jwt-token"}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    port: int = 8000
    public_url: str = ""  # how browsers reach us; derived from PORT when empty

    # No DATABASE_URL means: start the embedded PostgreSQL under `data_dir`.
    database_url: str = ""
    data_dir: Path = Field(
        default_factory=lambda: Path(platformdirs.user_data_dir("voxtro")),
        validation_alias="VOXTRO_DATA_DIR",
    )
    db_pool_min: int = 2
    db_pool_max: int = 20

    # Supabase. Without SUPABASE_URL the backend serves its own Supabase Auth subset.
    supabase_url: str = ""
    supabase_jwt_secret: str = ""
    supabase_service_role_key: str = ""
    supabase_anon_key: str = ""
    jwt_audience: str = "authenticated"
    access_token_ttl_seconds: int = 3600
    # A signed-out session's token is refused by every route within this many seconds: each
    # process looks a token's session up at most this often (in the statement that sets the
    # request's claims, so without a round trip of its own), and at once after a sign-out that
    # went through it.
    session_check_seconds: float = Field(default=5.0, ge=0, le=60)

    # Fernet keys (comma-separated, newest first) for tenant secrets at rest.
    encryption_keys: str = ""

    # Rate limits ("<count>/<period>", e.g. "20/minute"; see the README, Rate limits).
    rate_limit_authenticated: str = "200/15 minutes"  # per API key or signed-in user
    # Anonymous callers of routes that are not a bot's (sign-up, sign-in, contact), per address.
    rate_limit_anonymous: str = "60/minute"
    # A bot's public routes (widget, chat message, forms): per visitor of the bot, tightly…
    rate_limit_chat_visitor: str = "20/minute"
    # …and per address per bot, generously: many visitors share one office or mobile-carrier
    # address, while one address still cannot flood a bot.
    rate_limit_bot_address: str = "600/minute"
    redis_url: str = ""
    # X-Forwarded-For is believed only from these peers (comma-separated addresses or networks;
    # none by default, in every mode), and then only as far as TRUSTED_PROXY_HOPS entries from
    # the right: how many proxies (ours, and a CDN in front of them) append to it.
    trusted_proxies: str = ""
    trusted_proxy_hops: int = Field(default=1, ge=0, le=10)

    max_body_bytes: int = 1_000_000
    max_upload_bytes: int = 20_000_000  # knowledge files (PDFs)
    log_level: str = "INFO"
    log_json: bool = True

    # Every workspace's OpenAI calls go here (any OpenAI-compatible server: a proxy, Ollama).
    openai_base_url: str = "https://api.openai.com/v1"
    vapi_base_url: str = "https://api.vapi.ai"
    elevenlabs_base_url: str = "https://api.elevenlabs.io"
    bolna_base_url: str = "https://api.bolna.ai"
    # Meta's Graph API (the WhatsApp Cloud API), and the version every call names.
    whatsapp_api_url: str = "https://graph.facebook.com"
    whatsapp_api_version: str = Field(default="v22.0", pattern=r"^v[0-9]{1,3}\.[0-9]{1,2}$")
    # The pace of a newly connected WhatsApp number (Meta's default throughput), per second.
    whatsapp_messages_per_second: int = Field(default=80, ge=1, le=1000)
    # A first question this close (cosine) to a cached one gets the cached answer.
    semantic_cache_similarity: float = 0.92

    # Tenant-directed fetches may reach loopback only in local development and tests
    # (FETCH_ALLOW_LOOPBACK); every other private range stays refused even then.
    fetch_allow_loopback: bool = False
    # Ports tenant-directed fetches may use (comma-separated); loopback, when allowed, any.
    fetch_allowed_ports: str = "80,443"

    worker_concurrency: int = 4

    # Pause between two requests of a crawl to one host (robots.txt may ask for more).
    crawl_delay_seconds: float = 0.5
    # The most pages one crawl may fetch (the plan limit).
    crawl_max_pages: int = 500
    # A bot with more embedded chunks than this gets an HNSW index of its own (built in a job);
    # smaller ones are searched exactly, which is as fast at that size and never misses.
    vector_index_min_chunks: int = 5000

    # Local auth: where magic links may send the browser besides our own site (comma-separated).
    auth_redirect_urls: str = ""
    # Where a customer's sign-in link lands: the customer portal (a frontend page). Empty: the
    # API's own URL.
    portal_url: str = ""

    # E-mail (Resend). Without a key, e-mails are written to the log instead.
    resend_api_key: str = ""
    resend_api_url: str = "https://api.resend.com"
    email_from: str = "Voxtro <no-reply@voxtro.io>"

    # Billing (Stripe). Without a secret key billing is off: `voxtro credits grant` gives credits.
    stripe_secret_key: str = ""
    stripe_webhook_secret: str = ""
    stripe_api_base: str = "https://api.stripe.com"  # tests point stripe-python at a fake
    # The Billing Meter that metered overage is reported to (its `event_name`).
    stripe_meter_event_name: str = "voxtro_usage"
    # Credits a new workspace starts with when billing is configured (US dollars).
    free_credits: float = 5.0

    @property
    def billing_enabled(self) -> bool:
        return bool(self.stripe_secret_key)

    @property
    def embedded_database(self) -> bool:
        return not self.database_url

    @property
    def local_auth(self) -> bool:
        return not self.supabase_url

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://localhost:{self.port}").rstrip("/")

    @property
    def auth_issuer(self) -> str:
        return f"{self.supabase_url or self.base_url}/auth/v1"

    @field_validator("trusted_proxies")
    @classmethod
    def _proxy_networks(cls, value: str) -> str:
        try:
            proxy_networks(value)
        except ValueError as exc:
            raise ValueError(f"TRUSTED_PROXIES: {exc}") from exc
        return value

    @model_validator(mode="after")
    def _refuse_weak_secrets_in_production(self) -> Settings:
        if self.environment != "production":
            return self
        if self.supabase_jwt_secret in _PLACEHOLDER_SECRETS and not self.supabase_url:
            raise ValueError("SUPABASE_JWT_SECRET must be set to a strong secret in production")
        if len(self.supabase_jwt_secret) and len(self.supabase_jwt_secret) < 32:
            raise ValueError("SUPABASE_JWT_SECRET must be at least 32 characters")
        if not self.encryption_keys:
            raise ValueError("ENCRYPTION_KEYS must be set in production")
        if self.embedded_database:
            raise ValueError("DATABASE_URL must be set in production")
        if self.fetch_allow_loopback:
            raise ValueError("FETCH_ALLOW_LOOPBACK must not be set in production")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
