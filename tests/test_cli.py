"""The README's promise: `voxtro dev` (what `make dev` runs) starts the whole product on a fresh
data folder, prints how to reach it, and a second start reuses the data."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.fixtures.servers import free_port

_output: list[str] = []  # everything the `voxtro dev` processes of this module wrote


def _start(data_dir: Path, port: int) -> tuple[subprocess.Popen[str], dict[str, str]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "SUPABASE_URL", "SUPABASE_JWT_SECRET"}
    }
    env.update({"VOXTRO_DATA_DIR": str(data_dir), "PORT": str(port)})
    process = subprocess.Popen(
        [sys.executable, "-m", "backend.cli", "dev"],
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    banner: dict[str, str] = {}
    deadline = time.monotonic() + 60
    assert process.stdout is not None
    for line in process.stdout:
        _output.append(line)
        match = re.match(r"\s*([\w ]+?): (\S+)$", line)
        if match:
            banner[match.group(1).strip()] = match.group(2)
        if "Press Ctrl-C to stop" in line or time.monotonic() > deadline:
            break
    return process, banner


def _wait_ready(url: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError("the product did not become ready")


def _stop(process: subprocess.Popen[str]) -> int:
    process.send_signal(signal.SIGINT)
    code = process.wait(timeout=30)
    assert process.stdout is not None
    _output.append(process.stdout.read())  # the logs of the requests, and of the shutdown
    return code


def test_dev_starts_everything_and_a_second_start_reuses_the_data() -> None:
    data_dir = Path(tempfile.mkdtemp(prefix="vxd"))
    port = free_port()
    process, banner = _start(data_dir, port)
    try:
        url = banner["API URL"]
        assert url == f"http://localhost:{port}"
        assert banner["API docs"] == f"{url}/docs"
        _wait_ready(url)
        assert httpx.get(banner["API docs"]).status_code == 200

        # The printed demo admin signs in with the printed anon key and owns the demo workspace.
        session = httpx.post(
            f"{url}/auth/v1/token?grant_type=password",
            headers={"apikey": banner["anon key"]},
            json={"email": banner["Demo admin"], "password": banner["Demo password"]},
        )
        assert session.status_code == 200, session.text
        token = session.json()["access_token"]
        workspaces = httpx.get(
            f"{url}/api/workspaces", headers={"Authorization": f"Bearer {token}"}
        )
        assert [w["name"] for w in workspaces.json()["data"]] == ["Demo Workspace"]

        # The printed demo page embeds the demo chatbot, which answers before any key is added.
        demo = httpx.get(banner["Widget demo page"])
        assert demo.status_code == 200
        [chatbot_id] = re.findall(r'src="/api/widget/([0-9a-f-]{36})/script.js"', demo.text)
        assert banner["Demo chatbot"] == chatbot_id
        answer = httpx.post(
            f"{url}/api/widget/{chatbot_id}/message",
            json={"visitor_id": "first-minute", "message": "Can I pay cash on delivery?"},
        )
        assert answer.status_code == 200, answer.text
        assert "cash on delivery is available" in answer.json()["message"]

        # The service-role key administers users.
        users = httpx.get(
            f"{url}/auth/v1/admin/users",
            headers={
                "apikey": banner["anon key"],
                "Authorization": f"Bearer {banner['service_role key']}",
            },
        )
        assert [u["email"] for u in users.json()["users"]] == [banner["Demo admin"]]
    finally:
        assert _stop(process) == 0

    process, second = _start(data_dir, port)
    try:
        _wait_ready(second["API URL"])
        assert second["anon key"] == banner["anon key"]
        assert second["Demo password"] == banner["Demo password"]
        assert second["Demo chatbot"] == banner["Demo chatbot"]
        session = httpx.post(
            f"{second['API URL']}/auth/v1/token?grant_type=password",
            headers={"apikey": second["anon key"]},
            json={"email": second["Demo admin"], "password": second["Demo password"]},
        )
        token = session.json()["access_token"]
        workspaces = httpx.get(
            f"{second['API URL']}/api/workspaces", headers={"Authorization": f"Bearer {token}"}
        )
        assert len(workspaces.json()["data"]) == 1  # seeded once, not twice
        chatbots = httpx.get(
            f"{second['API URL']}/api/chatbots", headers={"Authorization": f"Bearer {token}"}
        )
        assert [b["name"] for b in chatbots.json()["data"]] == ["Chicx Assistant"]
    finally:
        assert _stop(process) == 0
    # Written into a pipe, not a terminal: readable lines without colour codes.
    logs = "".join(_output)
    assert "demo_workspace_created" in logs and "path=/readyz" in logs, logs[-2000:]
    assert "\x1b[" not in logs


def test_create_user_makes_an_admin_with_a_workspace(database_url, monkeypatch) -> None:
    from typer.testing import CliRunner

    from backend.cli import app
    from backend.config import get_settings
    from tests.conftest import TEST_JWT_SECRET

    monkeypatch.setenv("VOXTRO_DATA_DIR", tempfile.mkdtemp(prefix="vxc"))
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("SUPABASE_JWT_SECRET", TEST_JWT_SECRET)
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(
            app,
            [
                "create-user",
                "owner@example.com",
                "--password",
                "a-good-password",
                "--workspace",
                "Acme Clinic",
            ],
        )
        again = CliRunner().invoke(
            app, ["create-user", "owner@example.com", "--password", "a-good-password"]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    assert "Created user" in result.output and "(acme-clinic)" in result.output
    assert again.exit_code == 1
    assert "already exists" in again.output


def _run_without_a_database(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "SUPABASE_URL", "VOXTRO_DATA_DIR"}
    }
    env.update({"VOXTRO_DATA_DIR": str(data_dir), "LOG_JSON": "false"})
    return subprocess.run(
        [sys.executable, "-m", "backend.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_commands_on_a_folder_without_a_database_say_what_to_do_and_create_nothing() -> None:
    """Forgetting VOXTRO_DATA_DIR used to create an empty database there and then die on
    `relation "public.workspaces" does not exist`."""
    parent = Path(tempfile.mkdtemp(prefix="vxn"))
    missing, empty = parent / "missing", parent / "empty"
    empty.mkdir()
    for data_dir, args in [
        (missing, ["credits", "grant", "acme", "5"]),
        (empty, ["create-user", "owner@example.com", "--password", "a-good-password"]),
        (missing, ["worker"]),
    ]:
        result = _run_without_a_database(data_dir, *args)
        assert result.returncode == 1, (args, result.stdout, result.stderr)
        assert result.stderr.strip() == (
            f"Error: No Voxtro database in {data_dir}. Start it once there with `make dev`"
            " (or `voxtro dev`), or set VOXTRO_DATA_DIR to the folder that holds yours"
            " (DATABASE_URL to use another PostgreSQL)."
        )
        assert "Traceback" not in result.stderr
    assert not missing.exists()
    assert list(empty.iterdir()) == []


def test_a_database_never_migrated_says_to_migrate_first(database_url) -> None:
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("drop database if exists vx_unmigrated")
        conn.execute("create database vx_unmigrated")
    unmigrated = database_url.replace("/postgres?", "/vx_unmigrated?")
    assert unmigrated != database_url
    env = {k: v for k, v in os.environ.items() if k != "SUPABASE_URL"}
    env.update(
        {
            "DATABASE_URL": unmigrated,
            "VOXTRO_DATA_DIR": tempfile.mkdtemp(prefix="vxm"),
            "LOG_JSON": "false",
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "backend.cli", "credits", "grant", "acme", "5"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1, result.stderr
    assert result.stderr.strip() == (
        "Error: The database has no Voxtro tables yet. Run `voxtro migrate` (or start `make dev`"
        " once) first."
    )
