"""The RQ worker for runs (`rqworker --worker-class tenantatlas.operations.rq_worker.RunWorker`).

RQ runs each job in a forked work horse and notices when the horse dies. Two things change:

- a work horse that dies under its worker (SIGKILL, OOM) fails its run as `run.worker_lost` at
  once, instead of leaving it `running` until the reaper sees the stale heartbeat;
- SIGTERM to the worker (a deploy, `systemctl stop`) also tells the work horse to hand its run
  back to the queue at the next page boundary (SIGUSR1); RQ's warm shutdown then waits for the
  horse and exits. A second SIGTERM is RQ's cold shutdown (the reaper ends the run);
- what jobs load on first use is loaded before the first fork (``preload``), so every work
  horse inherits it: a horse runs one job and is gone, and loading it again for each job cost
  1–3 s per alert delivery and per run on a busy machine (B7 in docs/performance.md).
"""

from __future__ import annotations

import contextlib
import importlib
import logging
import os
import signal
from types import FrameType
from typing import Any

from django import db
from django.core.mail import mailers
from django.template import engines
from rq.job import Job
from rq.worker import Worker

from tenantatlas.operations.worker import fail_lost_run, request_hand_back

logger = logging.getLogger(__name__)

HAND_BACK_SIGNAL = signal.SIGUSR1
RUN_TASK = "tenantatlas.operations.worker.execute_run"
# The Graph client with MSAL (the gateway imports them when a run first talks to Graph) and a
# delivery's channels with their payloads and outbound HTTP path.
PRELOADED = ("tenantatlas.graph.auth", "tenantatlas.graph.client", "tenantatlas.alerts.channels")


def preload() -> None:
    """Load in the worker what its jobs would each load again: the modules above, the template
    engines (an e-mail alert renders templates; an engine loads every tag library) and the
    e-mail backends. Nothing here opens a connection, so no horse inherits one."""
    for name in PRELOADED:
        importlib.import_module(name)
    for engine in engines.all():
        with contextlib.suppress(AttributeError):  # a Django engine's loaders load on first use
            _ = engine.engine.template_loaders  # type: ignore[attr-defined]
    for alias in list(mailers.settings):
        _ = mailers[alias]


def _on_hand_back_signal(signum: int, frame: FrameType | None) -> None:
    request_hand_back()


def run_id_of(job: Job) -> int | None:
    """The run a job carries (the task's only argument), or None for any other job."""
    try:
        if job.func_name != RUN_TASK:
            return None
        return int(job.args[0])
    except (IndexError, TypeError, ValueError):
        return None


class RunWorker(Worker):
    def work(self, *args: Any, **kwargs: Any) -> bool:
        preload()
        return bool(super().work(*args, **kwargs))

    def _install_signal_handlers(self) -> None:
        super()._install_signal_handlers()
        # Installed before the fork, so a work horse never dies of an early hand-back signal.
        signal.signal(HAND_BACK_SIGNAL, _on_hand_back_signal)

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        if self.horse_pid:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.horse_pid, HAND_BACK_SIGNAL)
        super().request_stop(signum, frame)

    def handle_work_horse_killed(self, job: Job, retpid: int, ret_val: int, rusage: Any) -> None:
        super().handle_work_horse_killed(job, retpid, ret_val, rusage)
        run_id = run_id_of(job)
        if run_id is None:
            return
        how = f"signal {os.WTERMSIG(ret_val)}" if os.WIFSIGNALED(ret_val) else f"status {ret_val}"
        try:
            if fail_lost_run(
                run_id, f"The worker process running this operation was killed ({how})."
            ):
                logger.warning("Run %s failed: its work horse was killed (%s)", run_id, how)
        finally:
            # This process forks the next work horse: it must not inherit a database connection.
            db.connections.close_all()
