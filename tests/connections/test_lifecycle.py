"""One lifecycle for every provider's credentials: checked with the provider before anything
is stored, shown as the last four characters only, marked invalid when the provider refuses
it at use time, and re-encrypted with a new key by `voxtro rotate-secrets`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from backend.chatbots import repository as chatbot_repository
from backend.connections import service as connections
from backend.context import AppContext
from backend.kit.crypto import SecretBox, SecretBoxError
from backend.widget import repository as widget_repository
from tests.conftest import TEST_ENCRYPTION_KEY, app_with
from tests.fakes import bolna as bolna_fake
from tests.fakes import elevenlabs as elevenlabs_fake
from tests.fakes import vapi as vapi_fake
from tests.fakes.bolna import FakeBolna
from tests.fakes.elevenlabs import FakeElevenLabs
from tests.fakes.openai import FakeOpenAI
from tests.fakes.vapi import FakeVapi
from tests.fixtures.connections import stored_connections
from tests.fixtures.factories import Admin, create_admin, create_chatbot

COMMERCE_KEY = "shop-api-key-abcdefgh-9876"


@dataclass
class Fakes:
    openai: FakeOpenAI
    vapi: FakeVapi
    elevenlabs: FakeElevenLabs
    bolna: FakeBolna


@pytest.fixture(scope="module")
def provider_fakes(fake_openai_server: FakeOpenAI) -> Iterator[Fakes]:
    with FakeVapi() as vapi, FakeElevenLabs() as elevenlabs, FakeBolna() as bolna:
        yield Fakes(fake_openai_server, vapi, elevenlabs, bolna)


@pytest.fixture
def fakes(provider_fakes: Fakes) -> Fakes:
    for fake in (
        provider_fakes.openai,
        provider_fakes.vapi,
        provider_fakes.elevenlabs,
        provider_fakes.bolna,
    ):
        fake.reset()
    return provider_fakes


def _urls(fakes: Fakes) -> dict[str, object]:
    return {
        "openai_base_url": fakes.openai.base_url,
        "vapi_base_url": fakes.vapi.url,
        "elevenlabs_base_url": fakes.elevenlabs.url,
        "bolna_base_url": fakes.bolna.url,
    }


@pytest.fixture
async def with_fakes(
    database_url: str, fakes: Fakes
) -> AsyncIterator[tuple[httpx.AsyncClient, AppContext]]:
    """The app, with every provider pointing at its fake."""
    async with app_with(database_url, **_urls(fakes)) as (client, context):
        yield client, context


@dataclass
class Case:
    """A provider's documented routes: how to connect (with `keys`), and the answers that
    describe the connection."""

    provider: str
    connect: Callable[[httpx.AsyncClient, Admin, Fakes, str], Awaitable[httpx.Response]]
    keys: Callable[[Fakes], dict[str, str]]  # name -> the key itself (the main one first)
    status: str  # GET route
    last4_field: str
    refused: str  # a key the provider refuses


async def _openai(client: httpx.AsyncClient, admin: Admin, fakes: Fakes, key: str) -> Any:
    return await client.post("/api/openai/connect", headers=admin.headers, json={"api_key": key})


async def _commerce(client: httpx.AsyncClient, admin: Admin, fakes: Fakes, key: str) -> Any:
    # The merchant's API has no key check: what it refuses is an address we may not fetch.
    base_url = "http://10.0.0.7/api" if key == "refused" else "https://shop.example.com/api"
    return await client.put(
        "/api/connections/commerce",
        headers=admin.headers,
        json={"base_url": base_url, "api_key": COMMERCE_KEY},
    )


async def _vapi(client: httpx.AsyncClient, admin: Admin, fakes: Fakes, key: str) -> Any:
    return await client.post(
        "/api/voice/connect",
        headers=admin.headers,
        json={"private_key": key, "public_key": vapi_fake.PUBLIC_KEY},
    )


async def _elevenlabs(client: httpx.AsyncClient, admin: Admin, fakes: Fakes, key: str) -> Any:
    return await client.post(
        "/api/whatsapp/validate-elevenlabs", headers=admin.headers, json={"api_key": key}
    )


async def _bolna(client: httpx.AsyncClient, admin: Admin, fakes: Fakes, key: str) -> Any:
    return await client.put(
        "/api/bolna/connection",
        headers=admin.headers,
        json={"api_key": key, "agent_id": fakes.bolna.add_agent()},
    )


CASES = [
    Case(
        "openai",
        _openai,
        lambda f: {"api_key": f.openai.key},
        "/api/openai/status",
        "key_last4",
        "sk-not-a-real-key-000000000000",
    ),
    Case(
        "commerce",
        _commerce,
        lambda f: {"api_key": COMMERCE_KEY},
        "/api/connections/commerce",
        "key_last4",
        "refused",
    ),
    Case(
        "vapi",
        _vapi,
        lambda f: {"private_key": vapi_fake.PRIVATE_KEY, "public_key": vapi_fake.PUBLIC_KEY},
        "/api/voice/connect",
        "private_key_last4",
        "11111111-2222-4333-8444-555555555555",
    ),
    Case(
        "elevenlabs",
        _elevenlabs,
        lambda f: {"api_key": elevenlabs_fake.API_KEY},
        "/api/whatsapp/connection",
        "api_key_last4",
        "sk_ffffffffffffffffffffffffffffffffffffffffffffffff",
    ),
    Case(
        "bolna",
        _bolna,
        lambda f: {"api_key": bolna_fake.API_KEY},
        "/api/bolna/connection",
        "api_key_last4",
        "bn-wrong-key-000000",
    ),
]
IDS = [case.provider for case in CASES]


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_a_refused_key_is_a_400_and_nothing_is_stored(with_fakes, admin, fakes, case):
    client, context = with_fakes
    response = await case.connect(client, admin, fakes, case.refused)
    if case.provider == "elevenlabs":  # documented: a refused key is an answer, not an error
        assert response.status_code == 200, response.text
        assert response.json()["valid"] is False and response.json()["connection"] is None
    else:
        assert response.status_code == 400, response.text
        assert response.json()["code"] == "VALIDATION_ERROR"
        assert response.json()["errors"]
    assert case.refused not in response.text
    assert await stored_connections(context, case.provider) == []
    status = await client.get(case.status, headers=admin.headers)
    assert status.json()["connected"] is False


@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_only_the_last_four_characters_are_ever_shown(with_fakes, admin, fakes, case):
    client, context = with_fakes
    keys = case.keys(fakes)
    main = next(iter(keys.values()))
    connected = await case.connect(client, admin, fakes, main)
    assert connected.status_code == 200, connected.text
    status = await client.get(case.status, headers=admin.headers)
    assert status.status_code == 200, status.text
    body = status.json()
    assert body["connected"] is True and body[case.last4_field] == main[-4:]
    for response in (connected, status):
        for key in keys.values():
            assert key not in response.text and key[:-4] not in response.text

    # At rest: encrypted, and the configured keys read them back.
    [row] = await stored_connections(context, case.provider)
    assert row["key_last4"] == main[-4:] and row["status"] == "valid"
    for key in keys.values():
        assert key not in str(row)
    assert {name: context.secrets.decrypt(row["secrets"][name]) for name in keys} == keys


async def test_a_key_refused_at_use_time_is_marked_invalid_until_connected_again(
    with_fakes, admin, fakes
):
    client, context = with_fakes
    connected = await _vapi(client, admin, fakes, vapi_fake.PRIVATE_KEY)
    assert connected.status_code == 200, connected.text
    fakes.vapi.private_key = "22222222-3333-4444-8555-666666666666"  # revoked on VAPI
    try:
        refused = await client.post("/api/voice/calls/import", headers=admin.headers)
        assert refused.status_code == 400, refused.text
        status = (await client.get("/api/voice/connect", headers=admin.headers)).json()
        assert status["status"] == "invalid"
        [row] = await stored_connections(context, "vapi")
        assert row["status"] == "invalid" and "refused" in row["last_error"]
    finally:
        fakes.vapi.private_key = vapi_fake.PRIVATE_KEY
    again = await _vapi(client, admin, fakes, vapi_fake.PRIVATE_KEY)
    assert again.json()["status"] == "valid"
    [row] = await stored_connections(context, "vapi")
    assert row["status"] == "valid" and row["last_error"] is None


async def _connect_all(client: httpx.AsyncClient, admin: Admin, fakes: Fakes) -> None:
    for case in CASES:
        response = await case.connect(client, admin, fakes, next(iter(case.keys(fakes).values())))
        assert response.status_code == 200, (case.provider, response.text)
    secret = await client.put(
        "/api/whatsapp/webhook-secret", headers=admin.headers, json={"secret": "wsec_" + "a" * 30}
    )
    assert secret.status_code == 200, secret.text


async def _plaintexts(context: AppContext, box: SecretBox) -> dict[tuple[str, str], str]:
    async with context.db.system() as conn:
        rows = await (await conn.execute("select provider, secrets from connections")).fetchall()
    return {(r["provider"], n): box.decrypt(c) for r in rows for n, c in r["secrets"].items()}


async def _ciphertexts(context: AppContext) -> dict[tuple[str, str], str]:
    async with context.db.system() as conn:
        rows = await (await conn.execute("select provider, secrets from connections")).fetchall()
    return {(r["provider"], n): c for r in rows for n, c in r["secrets"].items()}


async def test_rotation_re_encrypts_every_secret_with_the_new_key(
    database_url, anon_key, with_fakes, fakes
):
    client, context = with_fakes
    admin = await create_admin(client, anon_key, "rotating")
    await _connect_all(client, admin, fakes)
    old = SecretBox(TEST_ENCRYPTION_KEY)
    before, plain = await _ciphertexts(context), await _plaintexts(context, old)
    assert len(plain) == 9  # every secret of the five providers, the webhook ones too

    new_key = Fernet.generate_key().decode()
    both = SecretBox(f"{new_key},{TEST_ENCRYPTION_KEY}")
    assert await _plaintexts(context, both) == plain  # the old ciphertexts read with both keys
    assert await connections.rotate(context.db, both) == 5

    after = await _ciphertexts(context)
    assert all(after[name] != before[name] for name in before)
    assert await _plaintexts(context, SecretBox(new_key)) == plain
    with pytest.raises(SecretBoxError):
        await _plaintexts(context, old)

    # The app with the new key alone uses them: the browser's VAPI key, a chat with OpenAI.
    async with app_with(database_url, encryption_keys=new_key, **_urls(fakes)) as (new, _):
        token = await new.get("/api/voice/token", headers=admin.headers)
        assert token.json() == {"token": vapi_fake.PUBLIC_KEY}
        checked = await new.get("/api/openai/validate", headers=admin.headers)
        assert checked.status_code == 200 and checked.json()["valid"] is True


async def test_voxtro_rotate_secrets(database_url, with_fakes, admin, fakes) -> None:
    """The CLI command, as an operator runs it: the new key first, then the old one."""
    client, context = with_fakes
    connected = await _openai(client, admin, fakes, fakes.openai.key)
    assert connected.status_code == 200, connected.text
    # The other secrets a workspace keeps with us: the widget's identity secret, action headers.
    identity = await client.get("/api/widget/identity-secret", headers=admin.headers)
    bot = await create_chatbot(client, admin)
    action = await client.post(
        f"/api/chatbots/{bot['id']}/actions",
        headers=admin.headers,
        json={"name": "order", "url_template": "https://x.io", "headers": {"X-Key": "k-123"}},
    )
    assert identity.status_code == 200 and action.status_code == 201, action.text
    new_key = Fernet.generate_key().decode()
    env = {k: v for k, v in os.environ.items() if k != "SUPABASE_URL"}
    env.update(
        {
            "DATABASE_URL": database_url,
            "ENCRYPTION_KEYS": f"{new_key},{TEST_ENCRYPTION_KEY}",
            "VOXTRO_DATA_DIR": tempfile.mkdtemp(prefix="vxr"),
            "LOG_JSON": "false",
        }
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "backend.cli",
        "rotate-secrets",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)
    assert process.returncode == 0, stderr.decode()
    assert stdout.decode().strip() == (
        "Re-encrypted with the newest key: the secrets of 1 connection(s),"
        " 1 widget identity secret(s), the headers of 1 action(s)"
    )
    [row] = await stored_connections(context, "openai")
    async with context.db.system() as conn:
        secret = await widget_repository.identity_secret(conn, uuid.UUID(admin.workspace_id))
        [headers] = await chatbot_repository.action_headers_for_update(conn)
    new, old = SecretBox(new_key), SecretBox(TEST_ENCRYPTION_KEY)
    assert new.decrypt(row["secrets"]["api_key"]) == fakes.openai.key
    assert secret is not None and new.decrypt(secret) == identity.json()["data"]["secret"]
    assert json.loads(new.decrypt(headers["encrypted_headers"])) == {"X-Key": "k-123"}
    for ciphertext in (row["secrets"]["api_key"], secret, headers["encrypted_headers"]):
        with pytest.raises(SecretBoxError):
            old.decrypt(ciphertext)
