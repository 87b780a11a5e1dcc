"""Every router of the product, in one place."""

from __future__ import annotations

from fastapi import APIRouter

from backend.api_keys.router import router as api_keys_router
from backend.auth.gotrue.router import router as gotrue_router
from backend.auth.router import router as auth_router
from backend.health.router import router as health_router
from backend.workspaces.router import router as workspaces_router


def build_router(*, local_auth: bool) -> APIRouter:
    router = APIRouter()
    router.include_router(health_router)
    router.include_router(auth_router)
    if local_auth:  # with SUPABASE_URL, Supabase Auth itself serves /auth/v1
        router.include_router(gotrue_router)
    router.include_router(workspaces_router)
    router.include_router(api_keys_router)
    return router
