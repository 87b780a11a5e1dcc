"""The embedded mode: a private PostgreSQL (with pgvector) from the `pgserver` wheel, and the
local secrets that a fresh machine needs, kept in the data folder so a second start reuses them.
"""

from __future__ import annotations

import json
import os
import secrets
import warnings
from pathlib import Path
from typing import Any

import structlog
from cryptography.fernet import Fernet

log = structlog.get_logger(__name__)

_servers: list[Any] = []  # keeps the server object alive (pgserver stops it when collected)


def has_database(data_dir: Path) -> bool:
    """Whether `data_dir` holds an embedded database (made by `voxtro dev` or `migrate`)."""
    return (data_dir / "pg" / "PG_VERSION").is_file()


def start_postgres(data_dir: Path) -> str:
    """Start (or reuse) the embedded server under `data_dir/pg`; returns its connection URL."""
    data_dir.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # pgserver asks platformdirs for a runtime folder, which warns on servers without one.
        warnings.simplefilter("ignore")
        import pgserver  # imported here: production never needs it

        server = pgserver.get_server(data_dir / "pg", cleanup_mode="stop")
    _servers.append(server)
    return str(server.get_uri())


def local_secrets(data_dir: Path) -> dict[str, str]:
    """Secrets generated once per data folder: the JWT secret of the local auth, the key that
    encrypts tenant secrets, and the demo admin's password."""
    path = data_dir / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    wanted = {
        "jwt_secret": lambda: secrets.token_urlsafe(48),
        "encryption_key": lambda: Fernet.generate_key().decode(),
        "demo_password": lambda: secrets.token_urlsafe(12),
    }
    missing = {name: make() for name, make in wanted.items() if name not in stored}
    if missing:
        stored.update(missing)
        data_dir.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(stored, indent=2))
        path.chmod(0o600)
    return stored


def prepare_environment(data_dir: Path, *, need_database: bool) -> dict[str, str]:
    """Fill in what the environment leaves out (database URL, secrets) for local runs; values
    already set in the environment always win."""
    found = local_secrets(data_dir)
    if need_database:
        os.environ["DATABASE_URL"] = start_postgres(data_dir)
    os.environ.setdefault("SUPABASE_JWT_SECRET", found["jwt_secret"])
    os.environ.setdefault("ENCRYPTION_KEYS", found["encryption_key"])
    return found
