"""The RQ worker for runs (`rqworker --worker-class tenantatlas.operations.rq_worker.RunWorker`).

RQ runs each job in a forked work horse and notices when the horse dies. Two things change:

- a work horse that dies under its worker (SIGKILL, OOM) fails its run as `run.worker_lost` at
  once, instead of leaving it `running` until the reaper sees the stale heartbeat;
- SIGTERM to the worker (a deploy, `systemctl stop`) also tells the work horse to hand its run
  back to the queue at the next page boundary (SIGUSR1); RQ's warm shutdown then waits for the
  horse and exits. A second SIGTERM is RQ's cold shutdown (the reaper ends the run).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from types import FrameType
from typing import Any

from django import db
from rq.job import Job
from rq.worker import Worker

from tenantatlas.operations.worker import fail_lost_run, request_hand_back

logger = logging.getLogger(__name__)

HAND_BACK_SIGNAL = signal.SIGUSR1
RUN_TASK = "tenantatlas.operations.worker.execute_run"


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
