"""The engine for a request: the one the app built at start-up (`app.state.chat`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backend.chat.engine import ChatEngine


async def get_engine(request: Request) -> ChatEngine:
    engine: ChatEngine = request.app.state.chat
    return engine


Engine = Annotated[ChatEngine, Depends(get_engine)]
