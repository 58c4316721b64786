"""The framework-owned wrapper around every handler: claim, heartbeat, run, finalize, announce.

Handlers only do the work; this module decides what a failure means (reason code vs. crash)
and asks the run's lifecycle (models.RunQuerySet) for every change of its status; the terminal
ones announce OperationRunCompleted exactly once.
A worker that is asked to stop (SIGTERM) hands its run back to the queue at the next page
boundary; one whose process the transport saw die fails its run as run.worker_lost at once.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db import connections, transaction
from django.db.utils import InterfaceError, OperationalError
from django.tasks import task
from django.utils import timezone

from tenantatlas.lib import request_context
from tenantatlas.lib.reasons import ProviderError, RetryLater, get_reason
from tenantatlas.lib.sanitize import Redactor, redaction_scope
from tenantatlas.operations.handlers import FAILED, RunHandedBack, RunOutcome, RunStopped
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.operations.registry import capability_handler, get_operation

logger = logging.getLogger(__name__)

# "Retry later" answers a run may follow before it ends as throttled: never an endless loop.
MAX_RESCHEDULES = 5

# Set when this worker process is asked to stop: the run in hand goes back to the queue.
_hand_back_requested = threading.Event()


# The queue declared here is only a default: enqueue_run names the run's own.
@task(queue_name=settings.TASK_QUEUE_INTERACTIVE)
def execute_run(run_id: int) -> None:
    """The transport's entry point: Django's tasks API carries only the run id; the run row
    holds the truth."""
    execute(run_id)


def enqueue_run(run_id: int, *, run_after: dt.datetime | None = None) -> None:
    """Send the run id to its operation's queue (registry.py). Starts, the reaper's re-sends,
    hand-backs and reschedules all come through here, so a run never changes queue."""
    operation_type = (
        OperationRun.objects.filter(pk=run_id).values_list("operation_type", flat=True).first()
    )
    if operation_type is None:
        logger.warning("Run %s not enqueued: there is no such run", run_id)
        return
    queue = get_operation(operation_type).queue
    execute_run.using(queue_name=queue, run_after=run_after).enqueue(run_id)


def request_hand_back() -> None:
    """Called from a worker's stop-signal handler: stop at the next page boundary, re-queue."""
    _hand_back_requested.set()


class WorkerContext:
    """The RunContext the worker hands to a handler (operations/handlers.py)."""

    def __init__(self, run: OperationRun, redactor: Redactor, deadline: float) -> None:
        self.run = run
        self.redactor = redactor
        self.deadline = deadline
        self._last_progress_write = 0.0

    def progress(self, done: int, total: int | None = None, *, force: bool = False) -> None:
        """Record progress, at most twice a second unless forced (keeps the DB quiet)."""
        now = time.monotonic()
        if not force and now - self._last_progress_write < 0.5:
            return
        self._last_progress_write = now
        OperationRun.objects.progress(self.run.pk, done=done, total=total)

    def check_stop(self) -> None:
        """Call at page boundaries: raises RunStopped if cancelled or past the timeout, and
        RunHandedBack if this worker is stopping."""
        if time.monotonic() > self.deadline:
            raise RunStopped("run.timed_out", "The run exceeded its time limit.")
        cancelled = OperationRun.objects.filter(
            pk=self.run.pk, cancel_requested_at__isnull=False
        ).exists()
        if cancelled:
            raise RunStopped("run.cancelled", "Cancelled while running.")
        if _hand_back_requested.is_set():
            raise RunHandedBack()


class Heartbeat:
    """Touches heartbeat_at from a side thread so the reaper can tell a live run from a lost one."""

    def __init__(self, run_id: int, interval: float) -> None:
        self.run_id = run_id
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=self.interval + 5)

    def _loop(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                self._beat()
        finally:
            # This thread's own connection dies with it. (close_old_connections() would open
            # one just to check it when the run ended before the first beat.)
            connections.close_all()

    def _beat(self) -> None:
        try:
            OperationRun.objects.beat(self.run_id)
        except Exception:
            # A failed beat (database locked or restarting) must neither kill the run nor end
            # the heartbeat: drop this thread's connection and beat again next interval.
            logger.warning("Heartbeat for run %s failed", self.run_id, exc_info=True)
            connections.close_all()


def claim(run_id: int) -> bool:
    """queued → running, only if still queued and due. False: someone else got there first."""
    return OperationRun.objects.claim(run_id, now=timezone.now())


def finalize(run_id: int, status: str, outcome: RunOutcome, redactor: Redactor) -> bool:
    """running → terminal, only if still running (the reaper may have failed it already)."""
    context = OperationRun.objects.filter(pk=run_id).values_list("context", flat=True).first()
    return OperationRun.objects.finish(
        run_id,
        status=status,
        summary_counts=redactor.sanitize_data(outcome.summary_counts),
        context=redactor.sanitize_data({**(context or {}), **outcome.context}),
        reason_code=outcome.reason_code,
        message=redactor.sanitize(outcome.message, limit=500),
    )


def hand_back(run: OperationRun) -> bool:
    """running → queued again, re-enqueued for the next worker (this one is stopping)."""
    context = {**run.context, "handed_back": int(run.context.get("handed_back", 0)) + 1}
    with transaction.atomic():
        handed = OperationRun.objects.hand_back(run.pk, context=context)
        if handed:
            transaction.on_commit(functools.partial(enqueue_run, run.pk))
    if handed:
        logger.info("Run %s handed back to the queue (worker stopping)", run.pk)
    return handed


def reschedule(run: OperationRun, *, not_before: dt.datetime, note: dict[str, Any]) -> bool:
    """running → queued until not_before (Graph said: retry later), re-enqueued for then."""
    context = {**run.context, "rescheduled": [*run.context.get("rescheduled", []), note]}
    with transaction.atomic():
        moved = OperationRun.objects.reschedule(run.pk, not_before=not_before, context=context)
        if moved:
            transaction.on_commit(lambda: enqueue_run(run.pk, run_after=not_before))
    return moved


def fail_lost_run(run_id: int, message: str) -> bool:
    """running → failed run.worker_lost now: the transport saw the worker process die."""
    return OperationRun.objects.fail_lost(run_id, message)


def _failure(code: str, message: str, context: dict[str, Any] | None = None) -> RunOutcome:
    return RunOutcome(
        status=FAILED,
        reason_code=code,
        message=message or get_reason(code).message,
        context=context or {},
    )


def _status_of(outcome: RunOutcome) -> str:
    return RunStatus.CANCELLED if outcome.reason_code == "run.cancelled" else outcome.status


@dataclass(frozen=True)
class BackInQueue:
    """The run left this worker for the queue (rescheduled or handed back); ``moved`` is False
    when it had already ended meanwhile (the reaper was faster)."""

    moved: bool


def _reschedule_or_give_up(run: OperationRun, exc: RetryLater) -> BackInQueue | RunOutcome:
    """Follow Microsoft's "retry later" (back to the queue until then) a few times, then fail."""
    if len(run.context.get("rescheduled", [])) >= MAX_RESCHEDULES:
        return _failure(
            exc.reason_code,
            f"Microsoft Graph asked to retry later {MAX_RESCHEDULES + 1} times; giving up.",
            {"failure_details": exc.details},
        )
    retry_at = exc.retry_at or timezone.now()
    note = {"reason_code": exc.reason_code, "retry_at": retry_at.isoformat()}
    return BackInQueue(reschedule(run, not_before=retry_at, note=note))


def _run_handler(run: OperationRun, ctx: WorkerContext) -> BackInQueue | RunOutcome:
    """The handler's outcome, or what the exception it raised means."""
    op = get_operation(run.operation_type)
    try:
        return capability_handler(run.connection.provider, op.interface)(ctx)
    except RetryLater as exc:
        return _reschedule_or_give_up(run, exc)
    except RunHandedBack:
        return BackInQueue(hand_back(run))
    except RunStopped as exc:
        return _failure(exc.reason_code, exc.message)
    except ProviderError as exc:
        return _failure(exc.reason_code, exc.message, {"failure_details": exc.details})
    except (OperationalError, InterfaceError):
        # The database went away: nothing can be recorded now. The worker reconnects, and the
        # run's stale heartbeat lets the reaper end it (run.worker_lost).
        raise
    except Exception as exc:  # the run must end with a reason, not hang
        logger.exception("Run %s crashed in %s", run.pk, op.key)
        return _failure("internal.error", f"Unexpected error ({type(exc).__name__}).")


def execute(run_id: int, *, heartbeat_interval: float | None = None) -> str | None:
    """Run one operation run end to end. Returns the status it ended with (queued when it went
    back to the queue), or None if this worker did not get to run it."""
    if not claim(run_id):
        logger.info("Run %s not claimed (already taken, cancelled or not due)", run_id)
        return None
    run = OperationRun.objects.select_related("connection", "workspace").get(pk=run_id)
    if not run.connection.is_enabled:
        # Queued before its connection was disabled: it must not reach the tenant.
        return RunStatus.FAILED if OperationRun.objects.fail_disabled(run_id) else None
    timeout = get_operation(run.operation_type).timeout_seconds
    with (
        redaction_scope() as redactor,
        request_context.bind(request_context.RequestContext(via="worker")),
        Heartbeat(run_id, heartbeat_interval or settings.RUN_HEARTBEAT_SECONDS),
    ):
        ctx = WorkerContext(run, redactor, deadline=time.monotonic() + timeout)
        outcome = _run_handler(run, ctx)
        if isinstance(outcome, BackInQueue):
            return RunStatus.QUEUED if outcome.moved else None
        status = _status_of(outcome)
        finalize(run_id, status, outcome, redactor)
    return status
