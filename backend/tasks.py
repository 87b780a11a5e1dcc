"""The job queue (Procrastinate on our own Postgres) and how domains enqueue work.

Domain modules declare jobs with `@task_app.task(name="domain.verb", ...)` in their
`tasks.py`; jobs take ids, not objects, open their own transaction and are idempotent.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import procrastinate
import structlog

from backend.db import Connection, as_login_role

if TYPE_CHECKING:
    from backend.context import AppContext

log = structlog.get_logger(__name__)

_PACKAGE = Path(__file__).resolve().parent


def _task_modules() -> list[str]:
    """Every `tasks.py` under the package, so that the worker knows every job: a domain that
    declares jobs is found by its file name, not by a hand-kept list."""
    return [
        ".".join(("backend", *path.relative_to(_PACKAGE).with_suffix("").parts))
        for path in sorted(_PACKAGE.rglob("tasks.py"))
    ]


TASK_MODULES = _task_modules()

task_app = procrastinate.App(connector=procrastinate.PsycopgConnector(), import_paths=TASK_MODULES)


class ProviderRetry(procrastinate.RetryStrategy):
    """Retries what may succeed later (network errors, 429, 5xx) with exponential backoff, and
    gives up at once on an error that says it never will (`retryable = False`: a refused key,
    an invalid request)."""

    def get_retry_decision(
        self, *, exception: BaseException, job: procrastinate.jobs.Job
    ) -> procrastinate.RetryDecision | None:
        if getattr(exception, "retryable", True) is False:
            log.error(
                "job_failed_permanently", task=job.task_name, job_id=job.id, error=repr(exception)
            )
            return None
        return super().get_retry_decision(exception=exception, job=job)


# Waits of 2, 4, 8 … 4096 s between attempts: about 2.3 hours before a job is given up.
PROVIDER_RETRY = ProviderRetry(max_attempts=12, exponential_wait=2)

STALLED_AFTER_SECONDS = 60
# A job that kills its worker every time would otherwise be retried forever.
MAX_STALLED_RETRIES = 5


def app_context(job: procrastinate.JobContext) -> AppContext:
    """The running backend's parts (database, services), handed to every job by the worker."""
    context: AppContext = job.additional_context["app"]
    return context


async def run_worker(
    context: AppContext,
    *,
    concurrency: int,
    wait: bool = True,
    handle_signals: bool = False,
    queues: list[str] | None = None,
) -> None:
    """Run jobs until cancelled (or, with `wait=False`, until the queue is empty); those of
    some `queues` only, if given. The web process runs this too in the embedded mode; the
    standalone `voxtro worker` handles SIGTERM itself (`handle_signals`) so that a deploy lets
    running jobs finish."""
    await task_app.run_worker_async(
        queues=queues,  # type: ignore[arg-type]  # the Worker takes None: every queue
        concurrency=concurrency,
        wait=wait,
        additional_context={"app": context},
        install_signal_handlers=handle_signals,
        delete_jobs="successful",
    )


async def enqueue(
    conn: Connection, task: procrastinate.tasks.Task[Any, Any, Any], **kwargs: Any
) -> int:
    """Defer `task` inside the caller's transaction: the job exists if and only if the data
    that asked for it was committed. (The queue's tables are closed to the API roles.)"""
    async with as_login_role(conn):
        return await task.configure(connection=conn).defer_async(**kwargs)


@task_app.periodic(cron="* * * * *")
@task_app.task(name="jobs.retry_stalled", queueing_lock="jobs.retry_stalled", pass_context=True)
async def retry_stalled_jobs(context: procrastinate.JobContext, timestamp: int) -> None:
    """A worker that died mid-job leaves it `doing` forever; give such jobs back to the queue."""
    manager = context.app.job_manager
    for job in await manager.get_stalled_jobs(seconds_since_heartbeat=STALLED_AFTER_SECONDS):
        try:
            if job.attempts >= MAX_STALLED_RETRIES:
                log.error("job_stalled_too_often", job_id=job.id, task=job.task_name)
                await manager.finish_job(job, procrastinate.jobs.Status.FAILED, delete_job=False)
            else:
                log.warning("job_stalled_retrying", job_id=job.id, task=job.task_name)
                await manager.retry_job(job)
        except procrastinate.exceptions.ProcrastinateException as exc:
            # Its state changed under us (another worker picked it up): leave it be.
            log.info("job_stalled_state_changed", job_id=job.id, error=repr(exc))
