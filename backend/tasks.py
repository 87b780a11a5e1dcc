"""The job queue (Procrastinate on our own Postgres) and how domains enqueue work.

Domain modules declare jobs with `@task_app.task(name="domain.verb", ...)` in their
`tasks.py`; jobs take ids, not objects, open their own transaction and are idempotent.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import procrastinate
import structlog

from backend.db import Connection

if TYPE_CHECKING:
    from backend.context import AppContext

log = structlog.get_logger(__name__)

# Every module that declares jobs, so that the worker knows them all.
TASK_MODULES = [
    "backend.tasks",
    "backend.auth.gotrue.tasks",
]

task_app = procrastinate.App(connector=procrastinate.PsycopgConnector(), import_paths=TASK_MODULES)

# Provider calls fail transiently: retry with exponential backoff (2, 4, 8 … s) up to ~1 hour.
PROVIDER_RETRY = procrastinate.RetryStrategy(max_attempts=12, exponential_wait=2)

STALLED_AFTER_SECONDS = 60


def app_context(job: procrastinate.JobContext) -> AppContext:
    """The running backend's parts (database, services), handed to every job by the worker."""
    context: AppContext = job.additional_context["app"]
    return context


async def run_worker(context: AppContext, *, concurrency: int, wait: bool = True) -> None:
    """Run jobs until cancelled (or, with `wait=False`, until the queue is empty). The web
    process runs this too in the embedded mode."""
    await task_app.run_worker_async(
        concurrency=concurrency,
        wait=wait,
        additional_context={"app": context},
        install_signal_handlers=False,
        delete_jobs="successful",
    )


async def enqueue(
    conn: Connection, task: procrastinate.tasks.Task[Any, Any, Any], **kwargs: Any
) -> int:
    """Defer `task` inside the caller's transaction: the job exists if and only if the data
    that asked for it was committed.

    The queue's tables are closed to the API roles, so the insert runs as the login role for
    this one statement and the transaction then goes back to `authenticated`.
    """
    current = await (await conn.execute("select current_user as role")).fetchone()
    role = current["role"] if current else None
    await conn.execute("reset role")
    try:
        return await task.configure(connection=conn).defer_async(**kwargs)
    finally:
        if role == "authenticated":
            await conn.execute("select set_config('role', 'authenticated', true)")


@task_app.periodic(cron="* * * * *")
@task_app.task(name="jobs.retry_stalled", queueing_lock="jobs.retry_stalled", pass_context=True)
async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
    """A worker that died mid-job leaves it `doing` forever; give such jobs back to the queue."""
    manager = context.app.job_manager
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS):
        log.warning("job_stalled_retrying", job_id=job.id, task=job.task_name)
        await manager.retry_job(job)
