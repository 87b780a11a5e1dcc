"""The widget's browser files: the loader (`script.js`), the messenger page and its assets,
built into `widget/dist/` (committed, so nothing needs building to run), and the demo page.

The loader's URL is fixed in customers' pages, so it is cached briefly and revalidated by ETag;
the messenger's assets have content-hashed names and are cached for a year."""

from __future__ import annotations

import hashlib
import html
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit
from uuid import UUID

from fastapi import APIRouter, Request, Response

from backend.chatbots.service import ChatbotNotFound
from backend.context import Context
from backend.errors import NotFound
from backend.widget import repository
from backend.widget.service import frame_ancestors

router = APIRouter(include_in_schema=False)

DIST = Path(__file__).resolve().parents[2] / "widget" / "dist"
LOADER_CACHE = "public, max-age=3600"
ASSET_CACHE = "public, max-age=31536000, immutable"
_MEDIA_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}


@dataclass(frozen=True)
class _File:
    body: bytes
    etag: str


@cache
def _file(relative: str) -> _File | None:
    path = (DIST / relative).resolve()
    if DIST.resolve() not in path.parents or not path.is_file():
        return None
    body = path.read_bytes()
    return _File(body, f'"{hashlib.sha256(body).hexdigest()[:32]}"')


def _serve(
    request: Request, file: _File, media_type: str, cache_control: str, **headers: str
) -> Response:
    common = {"ETag": file.etag, "Cache-Control": cache_control, **headers}
    if request.headers.get("if-none-match") == file.etag:
        return Response(status_code=304, headers=common)
    return Response(file.body, media_type=media_type, headers=common)


@router.get("/api/widget/{chatbot_id}/script.js")
async def loader(chatbot_id: UUID, request: Request, context: Context) -> Response:
    """The embed loader: `<script src=".../api/widget/{id}/script.js" async></script>`."""
    async with context.db.system() as conn:
        if await repository.bot_access(conn, chatbot_id) is None:
            raise ChatbotNotFound()
    file = _file("loader.js")
    if file is None:
        raise NotFound("The widget is not built: run python widget/build.py")
    return _serve(request, file, _MEDIA_TYPES[".js"], LOADER_CACHE)


@router.get("/widget/assets/{name}")
async def asset(name: str, request: Request) -> Response:
    file = _file(f"assets/{name}")
    media_type = _MEDIA_TYPES.get(Path(name).suffix)
    if file is None or media_type is None:
        raise NotFound("No such widget asset")
    return _serve(request, file, media_type, ASSET_CACHE, **{"X-Content-Type-Options": "nosniff"})


@router.get("/messenger/{chatbot_id}")
async def messenger(chatbot_id: UUID, request: Request, context: Context) -> Response:
    """The chat page the loader frames (and a standalone page): only our own scripts and
    styles, images from us and the bot's avatar host, framed only by the bot's sites."""
    async with context.db.system() as conn:
        bot = await repository.bot_access(conn, chatbot_id)
    file = _file("messenger.html")
    if file is None:
        raise NotFound("The widget is not built: run python widget/build.py")
    avatar = urlsplit(bot["avatar"]) if bot and bot["avatar"] else None
    images = f" {avatar.scheme}://{avatar.netloc}" if avatar and avatar.netloc else ""
    policy = (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self';"
        f" img-src 'self' data:{images}; base-uri 'none'; form-action 'none';"
        f" frame-ancestors {frame_ancestors(bot['allowed_domains'] if bot else [])}"
    )
    response = _serve(
        request,
        file,
        "text/html; charset=utf-8",
        "no-cache",
        **{
            "Content-Security-Policy": policy,
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "strict-origin-when-cross-origin",
        },
    )
    if bot is None:  # the page itself says the chat is not available
        response.status_code = 404
    return response


_DEMO = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Voxtro demo: {name}</title>
<link rel="icon" href="{icon}">
<link rel="stylesheet" href="/widget/demo.css">
</head>
<body>
<main>
<h1>Chicx Sarees <small>(a demo shop)</small></h1>
<p>This page stands in for a customer's website. The chat button in the corner is the
<strong>{name}</strong> chatbot of the demo workspace, added with one line:</p>
<pre><code>&lt;script src="{origin}/api/widget/{id}/script.js" async&gt;&lt;/script&gt;</code></pre>
<p>Ask it about shipping, returns or saree care. It answers from its FAQs and knowledge base
even before an OpenAI key is connected.</p>
</main>
<script src="/api/widget/{id}/script.js" async></script>
</body>
</html>
"""

# Inline, so that the browser asks the server for no /favicon.ico (there is none).
_DEMO_ICON = (
    "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 32 32'>"
    "<rect width='32' height='32' rx='8' fill='%23b4235a'/>"
    "<path d='M9 9h14a3 3 0 0 1 3 3v6a3 3 0 0 1-3 3h-6l-5 4v-4h-3a3 3 0 0 1-3-3v-6a3 3 0 0 1 3-3z'"
    " fill='%23fff'/></svg>"
)

# The snippet wraps: all of it is on screen to read and copy, on a phone too.
_DEMO_CSS = b"""body{font:16px/1.6 system-ui,sans-serif;margin:0;background:#faf7f2;color:#2b2118}
main{max-width:40rem;margin:4rem auto;padding:0 1.5rem}h1{line-height:1.2}
h1 small{font-size:.5em;color:#8a7a6a;white-space:nowrap}
pre{background:#fff;border:1px solid #e6dccf;border-radius:8px;padding:1rem;
white-space:pre-wrap;overflow-wrap:anywhere}
"""


@router.get("/demo")
async def demo(request: Request, context: Context) -> Response:
    """A stand-in customer page with the demo workspace's chatbot embedded."""
    async with context.db.system() as conn:
        bot = await repository.demo_bot(conn)
    if bot is None:
        raise NotFound("No demo chatbot: start the product with `make dev` to create it")
    origin = f"{request.url.scheme}://{request.url.netloc}"
    page = _DEMO.format(
        name=html.escape(bot["name"]), id=bot["id"], origin=html.escape(origin), icon=_DEMO_ICON
    )
    return Response(
        page,
        media_type="text/html; charset=utf-8",
        headers={
            "Cache-Control": "no-cache",
            "Content-Security-Policy": "default-src 'self'; style-src 'self' 'unsafe-inline';"
            " img-src 'self' data: https:",
        },
    )


@router.get("/widget/demo.css")
async def demo_css() -> Response:
    return Response(_DEMO_CSS, media_type="text/css; charset=utf-8")
