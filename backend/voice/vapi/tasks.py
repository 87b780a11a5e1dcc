"""Jobs of voice assistants: fetching from VAPI the calls whose end-of-call report never
reached us (our server down, a secret rotated in between), so that no call is lost; and the
handler of the reports the inbox keeps."""

from __future__ import annotations

from datetime import UTC, datetime

import procrastinate
import structlog

from backend.errors import VoxtroError
from backend.inbound import registry
from backend.tasks import app_context, task_app
from backend.voice.vapi import service

log = structlog.get_logger(__name__)


@task_app.periodic(cron="23 * * * *")
@task_app.task(name="voice.import_calls", queueing_lock="voice.import_calls", pass_context=True)
async def import_calls(context: procrastinate.JobContext, timestamp: int) -> None:
    app = app_context(context)
    since = datetime.now(UTC) - service.IMPORT_WINDOW
    for workspace_id in await service.connected_workspaces(app):
        try:  # one workspace's refused key or VAPI outage must not stop the others
            counts = await service.import_calls(app, workspace_id, since)
        except VoxtroError as exc:
            log.warning("vapi_calls_not_imported", workspace_id=str(workspace_id), error=str(exc))
            continue
        if counts["imported"]:
            log.info("vapi_calls_imported", workspace_id=str(workspace_id), **counts)


registry.register(registry.Provider.VAPI, service.handle_event)
