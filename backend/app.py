"""The ASGI application: `create_app()` wires settings, database, routers and middleware."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.middleware.gzip import GZipMiddleware

from backend.api import routers
from backend.auth.gotrue.errors import AuthApiError, auth_error_response
from backend.chat.engine import ChatEngine
from backend.config import Settings, get_settings
from backend.context import AppContext
from backend.errors import install_error_handlers
from backend.kit.input_guard import InputGuardMiddleware
from backend.logging import configure_logging
from backend.middleware import (
    BodySizeLimitMiddleware,
    PublicCORSMiddleware,
    RequestContextMiddleware,
)
from backend.openapi import (
    API_DESCRIPTION,
    DEFAULT_RESPONSES,
    DOCS_ASSETS,
    TAGS,
    install_openapi,
)
from backend.tasks import run_worker, task_app

# Called from visitors' browsers on any site (the widget API, form submissions, the website
# contact form): open CORS, without credentials (see PublicCORSMiddleware).
PUBLIC_CORS_PATHS = ("/api/widget/", "/api/forms/submit", "/api/notifications/contact")


def create_app(settings: Settings | None = None, *, run_jobs: bool = False) -> FastAPI:
    """The web app. With `run_jobs`, the same process also runs the job worker (the embedded
    one-command mode); otherwise `voxtro worker` runs jobs."""
    settings = settings or get_settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    context = AppContext.build(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await context.db.open()
        worker = None
        if run_jobs:
            # Requests enqueue on their own transaction; only the worker uses the queue's pool.
            await task_app.open_async(pool=context.db.pool)
            worker = asyncio.create_task(
                run_worker(context, concurrency=settings.worker_concurrency)
            )
        # What start-up left (imports, the app, the pool) lives as long as the process: moved out
        # of the collector's sight, the first full collection does not stall every request in
        # flight for ~150 ms while it walks a few hundred thousand objects (bench/webhooks.py).
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
                await task_app.close_async()
            await context.aclose()

    # /docs and /redoc with Swagger UI's and ReDoc's files from the package, not a CDN.
    app = FastAPIOffline(
        static_url=DOCS_ASSETS,
        redoc_url=None,  # ours, below
        title="Voxtro API",
        version="0.1.0",
        description=API_DESCRIPTION,
        lifespan=lifespan,
        openapi_tags=TAGS,
        responses=DEFAULT_RESPONSES,
        # No validator badge: it would send the spec's URL to swagger.io. No list of every
        # schema under the operations: each operation shows its own, and /docs renders sooner.
        swagger_ui_parameters={"validatorUrl": None, "defaultModelsExpandDepth": -1},
    )
    install_openapi(app)
    app.state.context = context
    # The engine keeps each bot's parts between messages: one per process (chat.dependencies).
    app.state.chat = ChatEngine.build(context)
    install_error_handlers(app)

    @app.exception_handler(AuthApiError)
    async def _auth_api_error(_: Request, exc: AuthApiError) -> JSONResponse:
        return auth_error_response(exc)

    # Inside the size limit: it reads whole bodies, which the limit keeps bounded.
    app.add_middleware(InputGuardMiddleware)
    app.add_middleware(
        BodySizeLimitMiddleware,
        max_bytes=settings.max_body_bytes,
        upload_max_bytes=settings.max_upload_bytes,
        upload_suffix="/knowledge/files",
        # ElevenLabs' `post_call_audio` deliveries carry the whole call as base64: refused,
        # they would count towards ElevenLabs disabling the workspace's webhook.
        large_prefixes=("/api/webhooks/elevenlabs/",),
    )
    app.add_middleware(RequestContextMiddleware)
    # The widget's files above all (the loader ships at under half its size); server-sent
    # events are left alone, so streamed tokens are not held back.
    app.add_middleware(GZipMiddleware, minimum_size=1024)
    app.add_middleware(PublicCORSMiddleware, path_prefixes=PUBLIC_CORS_PATHS)
    for router in routers(local_auth=settings.local_auth):
        app.include_router(router)
    return app


def server_options(*, host: str, port: int, **options: Any) -> dict[str, Any]:
    """How every mode serves the app (`voxtro dev`, `voxtro serve`, the tests' live server):
    the keyword arguments of `uvicorn.run` and `uvicorn.Config`.

    Without uvicorn's proxy headers: its default believes `X-Forwarded-For` from 127.0.0.1,
    which under `voxtro dev` is every caller, so anyone could pick the address their per-IP
    limits count against. Client addresses come from TRUSTED_PROXIES instead (kit/requests)."""
    return {
        "host": host,
        "port": port,
        "log_config": None,
        "access_log": False,
        "proxy_headers": False,
        **options,
    }
