# No `from __future__ import annotations` here: the routes below are built in a loop and
# FastAPI must see their body types as real classes, not strings.
from typing import Any
from uuid import UUID

from fastapi import APIRouter, status
from pydantic import BaseModel

from backend.auth.dependencies import AdminSubject, Session
from backend.chatbots import service
from backend.chatbots.schemas import (
    Action,
    ActionCreate,
    ActionUpdate,
    Chatbot,
    ChatbotCreate,
    ChatbotUpdate,
    Faq,
    FaqCreate,
    FaqUpdate,
    Form,
    FormCreate,
    FormUpdate,
)
from backend.context import Context
from backend.kit.pagination import Limit, Page
from backend.kit.schemas import Envelope, PageEnvelope, Pagination

router = APIRouter(prefix="/api/chatbots", tags=["chatbots"])


@router.get("", summary="List chatbots")
async def list_chatbots(
    subject: AdminSubject,
    session: Session,
    page: Page = 1,
    limit: Limit = 20,
) -> PageEnvelope[Chatbot]:
    rows, total = await service.list_chatbots(session, subject.workspace_id, page=page, limit=limit)
    return PageEnvelope(
        data=[Chatbot.model_validate(r) for r in rows],
        pagination=Pagination.of(page=page, limit=limit, total=total),
    )


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a chatbot")
async def create_chatbot(
    data: ChatbotCreate, subject: AdminSubject, session: Session
) -> Envelope[Chatbot]:
    return Envelope(data=Chatbot.model_validate(await service.create(session, subject, data)))


@router.get("/{chatbot_id}", summary="Get a chatbot")
async def get_chatbot(
    chatbot_id: UUID, subject: AdminSubject, session: Session
) -> Envelope[Chatbot]:
    return Envelope(
        data=Chatbot.model_validate(await service.get(session, subject.workspace_id, chatbot_id))
    )


@router.patch("/{chatbot_id}", summary="Update a chatbot")
async def update_chatbot(
    chatbot_id: UUID, data: ChatbotUpdate, subject: AdminSubject, session: Session
) -> Envelope[Chatbot]:
    return Envelope(
        data=Chatbot.model_validate(await service.update(session, subject, chatbot_id, data))
    )


@router.delete("/{chatbot_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a chatbot")
async def delete_chatbot(chatbot_id: UUID, subject: AdminSubject, session: Session) -> None:
    await service.delete(session, subject, chatbot_id)


def _add_child_routes(
    kind: str,
    create_model: type[BaseModel],
    update_model: type[BaseModel],
    out_model: type[BaseModel],
    *,
    one: str,
) -> None:
    """List, create, update and delete for one kind of a bot's parts (FAQs, forms, actions);
    `one` names one of them in the summaries (`an FAQ`)."""
    label = kind[:-1]
    noun = one.split(" ", 1)[1]

    async def list_children(
        chatbot_id: UUID, subject: AdminSubject, session: Session, context: Context
    ) -> Envelope[list[Any]]:
        rows = await service.list_children(
            session, kind, subject.workspace_id, chatbot_id, context.secrets
        )
        return Envelope(data=[out_model.model_validate(r) for r in rows])

    async def create_child(
        chatbot_id: UUID,
        data: create_model,  # type: ignore[valid-type]
        subject: AdminSubject,
        session: Session,
        context: Context,
    ) -> Envelope[Any]:
        row = await service.create_child(
            session, kind, subject, chatbot_id, data, context.secrets, context.http
        )
        return Envelope(data=out_model.model_validate(row))

    async def update_child(
        chatbot_id: UUID,
        child_id: UUID,
        data: update_model,  # type: ignore[valid-type]
        subject: AdminSubject,
        session: Session,
        context: Context,
    ) -> Envelope[Any]:
        row = await service.update_child(
            session, kind, subject, chatbot_id, child_id, data, context.secrets, context.http
        )
        return Envelope(data=out_model.model_validate(row))

    async def delete_child(
        chatbot_id: UUID, child_id: UUID, subject: AdminSubject, session: Session
    ) -> None:
        await service.delete_child(session, kind, subject, chatbot_id, child_id)

    path = f"/{{chatbot_id}}/{kind}"
    router.add_api_route(
        path,
        list_children,
        methods=["GET"],
        name=f"list_{kind}",
        summary=f"List a chatbot's {noun}s",
        response_model=Envelope[list[out_model]],  # type: ignore[valid-type]
    )
    router.add_api_route(
        path,
        create_child,
        methods=["POST"],
        name=f"create_{label}",
        summary=f"Add {one} to a chatbot",
        status_code=201,
        response_model=Envelope[out_model],  # type: ignore[valid-type]
    )
    router.add_api_route(
        f"{path}/{{child_id}}",
        update_child,
        methods=["PATCH"],
        name=f"update_{label}",
        summary=f"Update a chatbot's {noun}",
        response_model=Envelope[out_model],  # type: ignore[valid-type]
    )
    router.add_api_route(
        f"{path}/{{child_id}}",
        delete_child,
        methods=["DELETE"],
        name=f"delete_{label}",
        summary=f"Delete a chatbot's {noun}",
        status_code=204,
    )


_add_child_routes("faqs", FaqCreate, FaqUpdate, Faq, one="an FAQ")
_add_child_routes("forms", FormCreate, FormUpdate, Form, one="a form")
_add_child_routes("actions", ActionCreate, ActionUpdate, Action, one="an action")
