from __future__ import annotations

from uuid import UUID

from fastapi import APIRouter, status

from backend.auth.dependencies import AdminUser, ApiSubject, Session
from backend.context import Context
from backend.kit.schemas import Envelope
from backend.workspaces import service
from backend.workspaces.schemas import (
    CurrentWorkspace,
    Member,
    MemberAdd,
    MemberUpdate,
    Workspace,
    WorkspaceCreate,
    WorkspaceUpdate,
)

router = APIRouter(prefix="/api/workspaces", tags=["workspaces"])


@router.get("", summary="List the caller's workspaces")
async def list_workspaces(
    user: AdminUser, session: Session, context: Context
) -> Envelope[list[Workspace]]:
    rows = await service.list_for(session, user, context.settings)
    return Envelope(data=[Workspace.model_validate(r) for r in rows])


@router.get("/current", summary="Get the workspace this request acts in")
async def current_workspace(subject: ApiSubject, session: Session) -> Envelope[CurrentWorkspace]:
    """Where this request acts: the admin's selected workspace, or the API key's."""
    return Envelope(data=CurrentWorkspace.model_validate(await service.current(session, subject)))


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a workspace")
async def create_workspace(
    data: WorkspaceCreate, user: AdminUser, session: Session, context: Context
) -> Envelope[Workspace]:
    row = await service.create(session, user, data, context.settings)
    return Envelope(data=Workspace.model_validate(row))


@router.get("/{workspace_id}", summary="Get a workspace")
async def get_workspace(
    workspace_id: UUID, user: AdminUser, session: Session
) -> Envelope[Workspace]:
    return Envelope(data=Workspace.model_validate(await service.get(session, user, workspace_id)))


@router.patch("/{workspace_id}", summary="Update a workspace")
async def update_workspace(
    workspace_id: UUID, data: WorkspaceUpdate, user: AdminUser, session: Session
) -> Envelope[Workspace]:
    row = await service.update(session, user, workspace_id, data)
    return Envelope(data=Workspace.model_validate(row))


@router.delete(
    "/{workspace_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Delete a workspace"
)
async def delete_workspace(workspace_id: UUID, user: AdminUser, session: Session) -> None:
    await service.delete(session, user, workspace_id)


@router.get("/{workspace_id}/members", summary="List a workspace's members")
async def list_members(
    workspace_id: UUID, user: AdminUser, session: Session
) -> Envelope[list[Member]]:
    rows = await service.members(session, user, workspace_id)
    return Envelope(data=[Member.model_validate(r) for r in rows])


@router.post(
    "/{workspace_id}/members",
    status_code=status.HTTP_201_CREATED,
    summary="Add a member to a workspace",
)
async def add_member(
    workspace_id: UUID, data: MemberAdd, user: AdminUser, session: Session
) -> Envelope[Member]:
    row = await service.add_member(session, user, workspace_id, data.email, data.role)
    return Envelope(data=Member.model_validate(row))


@router.patch("/{workspace_id}/members/{user_id}", summary="Change a member's role")
async def change_member_role(
    workspace_id: UUID, user_id: UUID, data: MemberUpdate, user: AdminUser, session: Session
) -> Envelope[Member]:
    row = await service.change_role(session, user, workspace_id, user_id, data.role)
    return Envelope(data=Member.model_validate(row))


@router.delete(
    "/{workspace_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member from a workspace",
)
async def remove_member(
    workspace_id: UUID, user_id: UUID, user: AdminUser, session: Session
) -> None:
    await service.remove_member(session, user, workspace_id, user_id)
