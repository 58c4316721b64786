"""R8 — alert delivery workers SIGKILLed mid-send, again and again (seeded).

Real ``manage.py worker`` processes (the database transport, on the test's own database)
deliver 200 webhook alerts to a real HTTPS receiver that checks signatures and holds every
answer for half a second, so that a kill can land after the receiver has the request and
before the worker has its answer: the duplicate case. A seeded schedule SIGKILLs a random
worker at a random moment after one of its requests reached the receiver, eight times (a new
worker starts in its place, as the supervisor would), while ``reap --loop --every 1`` sweeps
with a 3-second lease.

Every delivery must end delivered; the receiver must have every delivery key and no other;
every copy of a key must be the same signed document; after deduplicating on the key
(``X-TenantAtlas-Delivery``) every alert is there exactly once; and every delivery whose
request was in flight when its worker died must have come again. The test fails when no kill
landed mid-send: then it would have proved nothing.

    R8_SEED=<n> .venv/bin/pytest -s tests/reliability/test_alert_delivery_kills.py
"""

from __future__ import annotations

import functools
import json
import os
import random
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.db import connection, transaction

from tenantatlas.alerts.models import (
    AlertChannel,
    AlertDelivery,
    AlertRule,
    ChannelKind,
    DeliveryStatus,
    EventKind,
    Severity,
)
from tenantatlas.alerts.secrets import seal
from tenantatlas.alerts.services import NewEvent, raise_event
from tenantatlas.alerts.tests.receivers import (
    Arrival,
    ObservedWebhookReceiver,
    process_with_tcp_port,
)
from tenantatlas.operations.tests.processes import manage, output_of, stop, subprocess_env, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EVENTS = 200
WORKERS = 3
KILLS = 8
ANSWER_DELAY = 0.5  # seconds the receiver holds every answer
MAX_PAUSE = 3.0  # before each kill, a pause of 0–3 s; then the sender of the next request...
KILL_WITHIN = 0.7  # ...is killed 0–0.7 s after that request arrived: mostly mid-send
LEASE_SECONDS = 5  # well above a delivery's own time: a second send means a lost worker


@dataclass(frozen=True)
class Kill:
    after: float  # seconds after the victim's request arrived
    unanswered: bool  # the receiver had not answered it yet
    mid_send: tuple[str, ...]  # keys the receiver had, and the victim had not recorded


def _stopped(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "T"
    except OSError:
        return True


def _next_request(
    workers: list[subprocess.Popen[bytes]],
    receiver: ObservedWebhookReceiver,
    since: float,
    undelivered: Callable[[], int],
) -> tuple[subprocess.Popen[bytes], Arrival] | str | None:
    """The first request to arrive after ``since`` that the receiver still holds, and the
    worker that sent it; "done" when nothing is left to deliver."""
    for arrival in [arrival for arrival in list(receiver.arrivals) if arrival.at > since]:
        if receiver.holding({arrival.client_port}):
            pids = {worker.pid: worker for worker in workers}
            sender = process_with_tcp_port(arrival.client_port, list(pids))
            if sender is not None:
                return pids[sender], arrival
    return None if undelivered() else "done"


def _kill(
    worker: subprocess.Popen[bytes], receiver: ObservedWebhookReceiver, request: Arrival
) -> Kill:
    """SIGKILL the worker that sent ``request``; note whether it died mid-send.

    The worker is stopped first (SIGSTOP) so that nothing it has in flight can change while
    it is looked at; it never runs again, and SIGKILL ends it as a crash would. Mid-send: the
    receiver has the request (it arrived) and the delivery is not recorded as delivered.
    """
    os.kill(worker.pid, signal.SIGSTOP)
    wait_for(lambda: _stopped(worker.pid), timeout=5, interval=0.005, what="the worker to stop")
    after = time.time() - request.at
    held = receiver.holding({request.client_port})
    recorded = AlertDelivery.objects.filter(key=request.key, status=DeliveryStatus.DELIVERED)
    mid_send = {*held, *([] if recorded.exists() else [request.key])}
    os.kill(worker.pid, signal.SIGKILL)
    assert worker.wait(timeout=10) == -signal.SIGKILL
    return Kill(after, bool(held), tuple(sorted(mid_send)))


def _raise(workspace_id: int, n: int) -> Any:
    return raise_event(
        NewEvent(
            workspace_id=workspace_id,
            kind=EventKind.RUN_FAILED,
            severity=Severity.CRITICAL,
            key=f"run:{n}",
            title=f"Sync {n} failed",
        )
    )


class Feeder(threading.Thread):
    """Raises the events a few at a time (one per worker) whenever fewer deliveries wait than
    there are workers: the workers always have work and the queue stays shorter than a lease.
    (A delivery that waits in the queue longer than a lease is handed out again by the
    sweeper each lease: no second send, but a flood of tasks.)"""

    def __init__(self, workspace_id: int) -> None:
        super().__init__(daemon=True)
        self.workspace_id = workspace_id
        self.event_ids: list[int] = []
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while len(self.event_ids) < EVENTS and not self.stopping.is_set():
                waiting = AlertDelivery.objects.filter(status=DeliveryStatus.PENDING, attempts=0)
                if waiting.count() >= WORKERS:
                    self.stopping.wait(0.05)
                    continue
                with transaction.atomic():  # the deliveries are enqueued when this commits
                    for _ in range(min(WORKERS, EVENTS - len(self.event_ids))):
                        self.event_ids.append(_raise(self.workspace_id, len(self.event_ids)).pk)
            self.done.set()
        except BaseException as exc:
            self.error = exc
        finally:
            connection.close()  # this thread's own


def _document(body: bytes) -> str:
    document: dict[str, Any] = json.loads(body)
    document.pop("sent_at")  # the one field a resend changes
    return json.dumps(document, sort_keys=True)


def _resent(reaper_output: str) -> int:
    return sum(
        int(part.removeprefix("deliveries_resent="))
        for part in reaper_output.split()
        if part.startswith("deliveries_resent=")
    )


def test_every_alert_arrives_exactly_once_after_dedupe_through_repeated_kills(acme, tmp_path):
    seed = int(os.environ.get("R8_SEED") or random.randrange(10_000))
    rng = random.Random(seed)
    print(f"\nR8 seed {seed} (R8_SEED={seed} replays this kill schedule)")
    receiver = ObservedWebhookReceiver(
        tmp_path / "pki", secret="r8-signing-secret-" + "s" * 20, delay=ANSWER_DELAY
    )
    with receiver:
        channel = AlertChannel.objects.create(
            workspace=acme, name="Service desk", kind=ChannelKind.WEBHOOK, url=receiver.url,
            secret_ciphertext=seal(receiver.secret),
        )  # fmt: skip
        AlertRule.objects.filter(workspace=acme).delete()  # only the rule under test listens
        rule = AlertRule.objects.create(
            workspace=acme, name="Failures to the desk", event_kind=EventKind.RUN_FAILED,
            min_severity=Severity.INFO,
        )  # fmt: skip
        rule.channels.set([channel])
        env = subprocess_env(
            TENANTATLAS_ALERT_LEASE_SECONDS=str(LEASE_SECONDS),
            TENANTATLAS_ALERTS_ALLOW_PRIVATE_NETWORKS="true",
            TENANTATLAS_ALERTS_CA_FILE=receiver.ca_file,
            # Compiled bytecode in a private cache, so that each restarted worker does not
            # compile Django from source again (this environment may forbid writing it).
            PYTHONPYCACHEPREFIX=str(Path(tempfile.gettempdir()) / "tenantatlas-test-pycache"),
        )
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        workers = [manage("worker", "--interval", "0.1", env=env) for _ in range(WORKERS)]
        reaper = manage("reap", "--loop", "--every", "1", env=env)
        feeder = Feeder(acme.pk)
        feeder.start()
        kills: list[Kill] = []

        def undelivered() -> int:
            left = AlertDelivery.objects.exclude(status=DeliveryStatus.DELIVERED).count()
            return left + (0 if feeder.done.is_set() else 1)

        try:
            wait_for(  # worker start-up: slow on a loaded machine, and not what is measured
                lambda: receiver.arrivals,
                timeout=180,
                what="the first delivery",
                diagnose=lambda: f"{feeder.error!r}\n{output_of(workers[0])[-3000:]}",
            )
            started = time.monotonic()
            for _ in range(KILLS):
                pause, delay = rng.uniform(0, MAX_PAUSE), rng.uniform(0, KILL_WITHIN)
                time.sleep(pause)
                found = wait_for(
                    functools.partial(_next_request, workers, receiver, time.time(), undelivered),
                    timeout=60,
                    interval=0.01,
                    what="a worker to send",
                )
                if not isinstance(found, tuple):
                    break  # all delivered
                victim, request = found
                time.sleep(max(0.0, request.at + delay - time.time()))
                kills.append(_kill(victim, receiver, request))
                workers.remove(victim)
                workers.append(manage("worker", "--interval", "0.1", env=env))  # the supervisor
            wait_for(
                lambda: undelivered() == 0,
                timeout=180,
                interval=0.5,
                what="every delivery to be delivered",
                diagnose=lambda: "\n".join(output_of(p)[-2000:] for p in [reaper, *workers]),
            )
            settled_after = time.monotonic() - started
            assert reaper.poll() is None, output_of(reaper)
        finally:
            feeder.stopping.set()
            feeder.join(timeout=30)
            for process in [*workers, reaper]:
                stop(process)
        assert feeder.error is None, feeder.error
        event_ids = sorted(feeder.event_ids)
        assert len(event_ids) == EVENTS
        reaper_output = output_of(reaper)

    deliveries = {d.key: d for d in AlertDelivery.objects.all()}
    received = receiver.by_delivery()
    mid_send = [kill for kill in kills if kill.mid_send]
    duplicates = sum(len(copies) - 1 for copies in received.values())
    print(
        f"R8: {len(kills)} SIGKILLs, [{', '.join(f'{k.after:.2f}' for k in kills)}] s after "
        f"the victim's request arrived; {len(mid_send)} mid-send (the receiver had the request, "
        f"the worker had not recorded it; {sum(k.unanswered for k in kills)} before the answer). "
        f"{EVENTS} deliveries, {len(receiver.received)} requests received, {duplicates} "
        f"duplicates in {sum(len(c) > 1 for c in received.values())} keys, {len(received)} "
        f"after dedupe; re-sent by the sweeper {_resent(reaper_output)}; all delivered "
        f"{settled_after:.1f} s after the first request"
    )

    assert {d.status for d in deliveries.values()} == {DeliveryStatus.DELIVERED}
    assert set(received) == set(deliveries)  # every key, and nothing else
    for key, copies in received.items():
        # Dedupe on the key is safe: every copy is the same signed document...
        assert all(copy.signature_ok for copy in copies), key
        assert {_document(copy.body) for copy in copies} == {_document(copies[0].body)}, key
        assert json.loads(copies[0].body)["id"] == key
        # ...and each copy was an attempt of its own.
        assert len(copies) <= deliveries[key].attempts, key
    # After dedupe, every alert exactly once.
    assert (
        sorted(
            alert["event_id"]
            for copies in received.values()
            for alert in json.loads(copies[0].body)["alerts"]
        )
        == event_ids
    )
    # The point of the test: kills landed mid-send, and each such delivery came again.
    assert mid_send, f"no kill landed mid-send (seed {seed}): this run proves nothing"
    for kill in mid_send:
        for key in kill.mid_send:
            assert len(received[key]) >= 2, (key, kill)
            assert deliveries[key].attempts >= 2, (key, kill)
    assert _resent(reaper_output) > 0
