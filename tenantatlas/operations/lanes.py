"""The lanes of a database-queue worker process: threads that each take runs of their queues.

A worker that serves `interactive` together with another queue runs two lanes: the main lane
takes the worker's queues in their order (a waiting check before the next sync), and the
interactive lane takes only `interactive`. While the main lane spends minutes on a sync, a
connection check, a snapshot or an alert delivery is taken by the interactive lane at once:
one worker process is enough for short work never to wait behind a sync
(docs/operations.md, "Queues").

Each lane is a thread with its own database connection (Django's connections are per thread;
it closes them when it ends), its own claim loop and reconnect backoff, and every run it takes
has its own heartbeat. The process stops as a whole: a stop signal sends the run of every lane
back to the queue at its next page boundary (`worker.request_hand_back`), and a lane that dies
of anything else stops the others too, so the process exits non-zero and its supervisor
restarts it, never half alive with a dead lane. SQLite's one writer is shared by the lanes as
by worker processes: each connection waits for the write lock (`timeout`), none holds it while
waiting for another lane.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType
from typing import Protocol

from django import db
from django.conf import settings
from django.db.utils import InterfaceError, OperationalError

from tenantatlas.operations.worker import request_hand_back

logger = logging.getLogger(__name__)

STOP_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGQUIT") if hasattr(signal, name)
)
_RECONNECT_MAX_SECONDS = 30.0


def lane_queues(queues: Sequence[str], *, interactive_lane: bool = True) -> list[list[str]]:
    """The queues of each lane: the worker's list, plus `interactive` alone when the worker
    serves it beside another queue (unless ``interactive_lane`` is off)."""
    interactive = settings.TASK_QUEUE_INTERACTIVE
    if not interactive_lane or interactive not in queues or len(queues) == 1:
        return [list(queues)]
    return [list(queues), [interactive]]


class LaneWorker(Protocol):
    """What a lane runs (operations/management/commands/worker.py: RunQueueWorker)."""

    queue_names: list[str]
    running: bool
    stopping: threading.Event

    def run(self) -> None: ...


class Lanes:
    """Runs each worker in a thread of its own until all have ended; handles stop signals."""

    def __init__(self, workers: Sequence[LaneWorker], *, retry: bool) -> None:
        self.workers = list(workers)
        self.retry = retry  # reconnect in place when the database goes away
        self.stopping = threading.Event()
        self.failed: list[BaseException] = []
        for worker in self.workers:
            worker.stopping = self.stopping

    def configure_signals(self) -> None:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self._on_signal)

    def run(self) -> int:
        """Start the lanes and wait for all of them; 0, or 1 when a lane failed."""
        threads = [
            threading.Thread(
                target=self._lane,
                args=(worker,),
                name=f"lane-{'+'.join(worker.queue_names)}",
                daemon=True,  # a second stop signal ends the process with its runs in hand
            )
            for worker in self.workers
        ]
        for thread in threads:
            thread.start()
        while any(thread.is_alive() for thread in threads):
            for thread in threads:
                thread.join(timeout=0.5)  # short, so that signals reach the main thread
        return 1 if self.failed else 0

    def stop(self) -> None:
        """Every lane ends: idle ones at once, busy ones once their run went back to the queue
        at its next page boundary (or ended before it)."""
        request_hand_back()
        for worker in self.workers:
            worker.running = False
        self.stopping.set()

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.strsignal(signum)
        if self.stopping.is_set():
            logger.warning("Received %s again: exiting with the runs in hand", name)
            for each in STOP_SIGNALS:
                signal.signal(each, signal.SIG_DFL)
            sys.exit(1)
        logger.warning(
            "Received %s: stopping; runs in hand go back to the queue at their next page "
            "boundary (again to exit at once)",
            name,
        )
        self.stop()

    def _lane(self, worker: LaneWorker) -> None:
        try:
            self._serve(worker)
        except BaseException as exc:
            logger.exception("Worker lane %s failed; the worker stops", worker.queue_names)
            self.failed.append(exc)
            self.stop()
        finally:
            db.connections.close_all()  # this thread's own connections

    def _serve(self, worker: LaneWorker) -> None:
        """Run the lane; when the database goes away, reconnect in place with backoff.

        A run interrupted by the outage keeps its stale heartbeat and is ended by the reaper
        (run.worker_lost); the lane itself waits and carries on.
        """
        delay = 1.0
        while True:
            try:
                worker.run()
                return
            except (OperationalError, InterfaceError) as exc:
                if self.stopping.is_set():
                    return  # stopping anyway: the reaper ends the run it had in hand
                if not self.retry:
                    raise
                logger.warning(
                    "Database unavailable (%s); the worker reconnects in %.0f s",
                    type(exc).__name__,
                    delay,
                )
                db.connections.close_all()
                if self.stopping.wait(delay):
                    return
                delay = min(delay * 2, _RECONNECT_MAX_SECONDS)
