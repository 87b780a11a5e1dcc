"""The widget's browser files as served: the loader, the messenger page and its assets."""

from __future__ import annotations

import gzip

import pytest

from tests.fixtures.factories import create_chatbot


@pytest.fixture
async def bot(client, admin):
    return await create_chatbot(client, admin, theme={"avatar": "https://cdn.chicx.example/a.png"})


async def test_the_messenger_page_is_locked_down(client, bot):
    page = await client.get(f"/messenger/{bot['id']}")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = dict(
        part.strip().split(" ", 1) for part in page.headers["content-security-policy"].split(";")
    )
    assert policy["script-src"] == "'self'" and policy["default-src"] == "'none'"
    assert policy["img-src"] == "'self' data: https://cdn.chicx.example"
    assert policy["frame-ancestors"] == "*"
    assert "<script>" not in page.text  # no inline script: the policy would block it
    assert (await client.get("/messenger/00000000-0000-0000-0000-000000000000")).status_code == 404


async def test_the_loader_is_small_and_revalidated_by_etag(client, bot):
    loader = await client.get(f"/api/widget/{bot['id']}/script.js")
    assert loader.status_code == 200
    assert loader.headers["content-type"].startswith("text/javascript")
    assert loader.headers["cache-control"] == "public, max-age=3600"
    assert len(gzip.compress(loader.content)) <= 3 * 1024
    assert loader.headers["content-encoding"] == "gzip"  # and it travels compressed
    again = await client.get(
        f"/api/widget/{bot['id']}/script.js", headers={"If-None-Match": loader.headers["etag"]}
    )
    assert again.status_code == 304 and again.content == b""
    asset = next(
        part.split('"')[0]
        for part in (await client.get(f"/messenger/{bot['id']}")).text.split('src="')[1:]
        if part.startswith("/widget/assets/")
    )
    served = await client.get(asset)
    assert served.status_code == 200
    assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert (await client.get("/widget/assets/../../pyproject.toml")).status_code == 404


async def test_only_the_bots_sites_may_frame_its_messenger(client, admin, bot):
    await client.patch(
        f"/api/chatbots/{bot['id']}",
        headers=admin.headers,
        json={"allowed_domains": ["chicx.example"]},
    )
    page = await client.get(f"/messenger/{bot['id']}")
    policy = page.headers["content-security-policy"]
    assert "frame-ancestors 'self' chicx.example *.chicx.example" in policy


def test_the_committed_build_is_the_build_of_the_sources():
    """widget/dist is committed (nothing to build to run the product): it must be what
    `python widget/build.py` makes of widget/src now."""
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "widget/build.py", "--check"],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_messenger_stays_small():
    """The chat frame a visitor opens: page, script and style under 60 KB gzipped together."""
    from pathlib import Path

    dist = Path(__file__).resolve().parents[2] / "widget" / "dist"
    files = [dist / "messenger.html", *sorted((dist / "assets").iterdir())]
    assert {f.suffix for f in files} == {".html", ".js", ".css"}
    assert sum(len(gzip.compress(f.read_bytes())) for f in files) <= 60 * 1024
