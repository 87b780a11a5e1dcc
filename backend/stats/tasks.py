"""Jobs of the stats API: rolling up each finished day's message count, so that the dashboard's
charts read a row per day (see migrations/20261125_18_stats_rollups.sql)."""

from __future__ import annotations

from datetime import timedelta

import procrastinate
import psycopg
import structlog

from backend.db import Database
from backend.stats import repository
from backend.tasks import app_context, task_app

log = structlog.get_logger(__name__)

# A day is rolled up this long after its midnight: a message is written in a transaction of a
# few seconds, so none of that day's is still to come. (A message written later with an older
# `created_at` would be missed by the rollup; nothing writes messages that way.)
SETTLE = timedelta(minutes=10)


async def roll_up_finished_days(db: Database) -> int:
    """Roll up every workspace's finished days; how many workspaces had some."""
    async with db.system() as conn:
        due = await repository.workspaces_to_roll_up(conn, settle=SETTLE)
    rolled = 0
    for workspace in due:  # one transaction each: a large first rollup holds no other locks
        try:
            async with db.system() as conn:
                await repository.roll_up(conn, workspace)
        except psycopg.Error:  # this workspace's days wait for the next run; the others don't
            log.exception("message_days_not_rolled_up", workspace_id=str(workspace["workspace_id"]))
            continue
        rolled += 1
    return rolled


@task_app.periodic(cron="*/15 * * * *")
@task_app.task(
    name="stats.roll_up_messages", queueing_lock="stats.roll_up_messages", pass_context=True
)
async def roll_up_messages(context: procrastinate.JobContext, timestamp: int) -> None:
    rolled = await roll_up_finished_days(app_context(context).db)
    if rolled:
        log.info("message_days_rolled_up", workspaces=rolled)
