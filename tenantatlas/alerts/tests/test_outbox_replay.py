"""1,000 events replayed into the outbox: 1,000 deliveries per channel, none twice, and a
channel's 429 with Retry-After waited out exactly.

One rule with four channels — in-app, e-mail to a real SMTP server, a webhook to a real HTTPS
receiver that checks signatures, Microsoft Teams to the simulator's Workflows webhook — and
three real ``manage.py worker`` processes (the database transport) delivering while another
process raises the events. Each receiver must end with every delivery once: one in-app notice
per member and event, one message per Message-ID, one accepted (2xx) webhook request per key,
one card per event.

The first requests to the webhook and to the Teams workflow are answered 429 with Retry-After;
each of those deliveries must be due again exactly that many seconds after the 429, must not
reach the receiver before it is due, and must reach it soon after (``LATE_AT_MOST``: a busy
worker finishes the delivery in hand first).

It takes minutes (4,000 deliveries on two shared CPUs), hence ``slow``, and runs in the
PostgreSQL run of the suite only (production's database; the delivery code is the same on
SQLite, whose run covers the rest of the alerts tests), to keep CI within its time.
"""

from __future__ import annotations

import datetime as dt
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.db.models import Count

from tenantatlas.alerts.models import (
    AlertChannel,
    AlertDelivery,
    AlertRule,
    ChannelKind,
    DeliveryStatus,
    EventKind,
    Severity,
)
from tenantatlas.alerts.outbound import redact_url
from tenantatlas.alerts.secrets import seal
from tenantatlas.alerts.tests.receivers import WebhookReceiver
from tenantatlas.notifications.models import Notification
from tenantatlas.operations.tests.processes import manage, output_of, stop, subprocess_env, wait_for
from tenantatlas.simulator.scenarios import Faults, ThrottleFault
from tenantatlas.workspaces.models import Role

pytestmark = [
    pytest.mark.slow,
    pytest.mark.postgres,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL run covers this"),
    pytest.mark.django_db(transaction=True),
]

EVENTS = 1000
WORKERS = 3
WEBHOOK_THROTTLED, WEBHOOK_RETRY_AFTER = 4, 5  # the first 4 requests: 429, Retry-After: 5
TEAMS_THROTTLED, TEAMS_RETRY_AFTER = 3, 4  # the first 3 requests: 429, Retry-After: 4
LATE_AT_MOST = dt.timedelta(seconds=5)  # from due to the receiver's receipt of the retry


class AnsweringReceiver(WebhookReceiver):
    """A webhook receiver that also notes, for every request, its delivery key, the status it
    was answered and when (``answers``)."""

    def __init__(self, state_dir: Any, secret: str) -> None:
        super().__init__(state_dir, secret)
        self.answers: list[tuple[str, int, dt.datetime]] = []
        self._answering = threading.local()

    def _next(self) -> tuple[int, dict[str, str], float]:
        answer = super()._next()
        self._answering.status = answer[0]  # the same handler thread records it next
        return answer

    def _record(self, path: str, headers: dict[str, str], body: bytes) -> None:
        super()._record(path, headers, body)
        key = headers.get("X-TenantAtlas-Delivery", "")
        with self._lock:
            self.answers.append((key, self._answering.status, dt.datetime.now(dt.UTC)))


def _channels(workspace: Any, webhook: Any, workflow_url: str) -> dict[str, AlertChannel]:
    AlertRule.objects.filter(workspace=workspace).delete()  # only the rule under test listens
    AlertChannel.objects.filter(workspace=workspace).delete()
    channels: dict[str, AlertChannel] = {
        ChannelKind.IN_APP: AlertChannel.objects.create(
            workspace=workspace, name="In-app", kind=ChannelKind.IN_APP
        ),
        ChannelKind.EMAIL: AlertChannel.objects.create(
            workspace=workspace, name="E-mail", kind=ChannelKind.EMAIL
        ),
        ChannelKind.WEBHOOK: AlertChannel.objects.create(
            workspace=workspace, name="Desk webhook", kind=ChannelKind.WEBHOOK, url=webhook.url,
            secret_ciphertext=seal(webhook.secret),
        ),
        ChannelKind.TEAMS: AlertChannel.objects.create(
            workspace=workspace, name="Teams", kind=ChannelKind.TEAMS,
            secret_ciphertext=seal(workflow_url), url_display=redact_url(workflow_url),
        ),
    }  # fmt: skip
    rule = AlertRule.objects.create(
        workspace=workspace, name="Everything everywhere", event_kind=EventKind.RUN_FAILED,
        min_severity=Severity.INFO, recipient_roles=[Role.OWNER, Role.MANAGER],
    )  # fmt: skip
    rule.channels.set(channels.values())
    return channels


def _undelivered(workers: list[Any]) -> str:
    left = AlertDelivery.objects.exclude(status=DeliveryStatus.DELIVERED)
    counts = sorted(left.values_list("channel__kind", "status").annotate(n=Count("id")))
    return f"{counts}\n{output_of(workers[0])[-3000:]}"


REPLAY = """
from django.db import transaction
from tenantatlas.alerts.services import NewEvent, raise_event
for first in range(0, {events}, 10):
    with transaction.atomic():  # the deliveries are handed to the workers when this commits
        for n in range(first, min(first + 10, {events})):
            raise_event(NewEvent(
                workspace_id={workspace_id}, kind="run.failed", severity=30, key=f"run:{{n}}",
                title=f"Replayed failure {{n}}", body="Graph timed out.",
                path=f"/w/{slug}/runs/{{n}}/",
            ))
"""


class ThrottleWatch(threading.Thread):
    """Notes every wait for a 429: (last attempt, next attempt) of each delivery while it waits
    (a wait lasts seconds; this looks every 0.1 s), from its own database connection."""

    def __init__(self) -> None:
        super().__init__(daemon=True)
        self.waits: dict[int, set[tuple[dt.datetime, dt.datetime]]] = {}
        self.stopping = threading.Event()

    def run(self) -> None:
        waiting = AlertDelivery.objects.filter(status=DeliveryStatus.PENDING, last_status_code=429)
        try:
            while not self.stopping.wait(0.1):
                for pk, last, due in waiting.values_list(
                    "pk", "last_attempt_at", "next_attempt_at"
                ):
                    if last is not None:
                        self.waits.setdefault(pk, set()).add((last, due))
        finally:
            connection.close()  # this thread's own


def test_a_thousand_events_reach_every_channel_once_and_retry_after_is_waited_out(
    sim, smtp, acme, alice, maggie, bob, tmp_path
):
    workflow = sim.teams.add_workflow(
        faults=Faults(
            throttle=ThrottleFault(count=TEAMS_THROTTLED, retry_after=str(TEAMS_RETRY_AFTER))
        )
    )
    webhook = AnsweringReceiver(tmp_path / "webhook-pki", secret="whsec-" + "k" * 32)
    with webhook:
        webhook.answer(
            429, times=WEBHOOK_THROTTLED, headers={"Retry-After": str(WEBHOOK_RETRY_AFTER)}
        )
        _replay_and_check(sim, smtp, webhook, workflow, acme, alice, maggie, bob, tmp_path)


def _replay_and_check(
    sim: Any,
    smtp: Any,
    webhook: AnsweringReceiver,
    workflow: Any,
    acme: Any,
    alice: Any,
    maggie: Any,
    bob: Any,
    tmp_path: Path,
) -> None:
    channels = _channels(acme, webhook, workflow.url)
    bundle = tmp_path / "receivers-ca.pem"  # both test CAs: the webhook's and the simulator's
    bundle.write_text(Path(webhook.ca_file).read_text() + Path(sim.ca_bundle).read_text())
    env = subprocess_env(
        sim,
        TENANTATLAS_SMTP_URL=f"smtp+plain://127.0.0.1:{smtp.port}",
        TENANTATLAS_ALERTS_ALLOW_PRIVATE_NETWORKS="true",
        TENANTATLAS_ALERTS_CA_FILE=str(bundle),
        PYTHONPYCACHEPREFIX=str(Path(tempfile.gettempdir()) / "tenantatlas-test-pycache"),
    )
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # compiled once into the cache above
    started = time.monotonic()
    workers = [manage("worker", "--interval", "0.1", env=env) for _ in range(WORKERS)]
    watch = ThrottleWatch()
    watch.start()
    try:
        # The replay runs in a process of its own, as a domain's transactions would.
        replay = manage(
            "shell",
            "-c",
            REPLAY.format(events=EVENTS, workspace_id=acme.pk, slug=acme.slug),
            env=env,
        )
        assert replay.wait(timeout=900) == 0, output_of(replay)
        raised = time.monotonic() - started
        wait_for(
            lambda: not AlertDelivery.objects.exclude(status=DeliveryStatus.DELIVERED).exists(),
            timeout=1200,
            interval=0.2,
            what="every delivery to be delivered",
            diagnose=lambda: _undelivered(workers),
        )
        finished = time.monotonic() - started
    finally:
        watch.stopping.set()
        watch.join(timeout=10)
        for worker in workers:
            stop(worker)

    deliveries = list(AlertDelivery.objects.select_related("channel"))
    by_kind: dict[str, list[AlertDelivery]] = {}
    for delivery in deliveries:
        by_kind.setdefault(delivery.channel.kind, []).append(delivery)
    expected_titles = {f"Replayed failure {n}" for n in range(EVENTS)}

    # Every channel: exactly one delivery per event, each delivered.
    assert {kind: len(items) for kind, items in by_kind.items()} == dict.fromkeys(channels, EVENTS)
    assert {d.status for d in deliveries} == {DeliveryStatus.DELIVERED}

    # In-app: one notification per event for each member in the rule's roles, none twice.
    for user in (alice, maggie):
        titles = list(
            Notification.objects.filter(user=user, kind="alert").values_list("title", flat=True)
        )
        assert len(titles) == EVENTS, user
        assert set(titles) == expected_titles, user
    assert not Notification.objects.filter(user=bob, kind="alert").exists()  # not in the roles

    # E-mail: one message per delivery key (Message-ID), to both members.
    message_ids = [m["Message-ID"] for m in smtp.mailbox.messages]
    assert len(message_ids) == EVENTS
    assert set(message_ids) == {f"<{d.key}@tenantatlas>" for d in by_kind[ChannelKind.EMAIL]}
    assert all(
        sorted(to) == sorted([alice.email, maggie.email]) for _, to in smtp.mailbox.envelopes
    )

    # Webhook: every key accepted exactly once, plus one request for each 429 (same key).
    received = webhook.by_delivery()
    assert set(received) == {d.key for d in by_kind[ChannelKind.WEBHOOK]}
    assert all(len(received[d.key]) == d.attempts for d in by_kind[ChannelKind.WEBHOOK])
    assert all(copy.signature_ok for copies in received.values() for copy in copies)
    accepted = Counter(key for key, status, _ in webhook.answers if status < 300)
    assert accepted == dict.fromkeys(received, 1)
    assert sum(status == 429 for _, status, _ in webhook.answers) == WEBHOOK_THROTTLED

    # Teams: one card per event in the workflow's channel, none twice.
    runs = sim.teams.runs(workflow.workflow_id)
    cards = [card for run in runs for card in run.cards]
    headlines = [card["body"][0]["text"] for card in cards]
    assert len(headlines) == EVENTS
    assert set(headlines) == expected_titles
    assert sim.teams.remaining_faults(workflow.workflow_id) == (0, 0)

    # Retry-After: each 429 made its delivery due again exactly N s later; the retry reached
    # the receiver no sooner and soon after (a retry may meet another 429).
    retry_after: dict[str, int] = {
        ChannelKind.WEBHOOK: WEBHOOK_RETRY_AFTER,
        ChannelKind.TEAMS: TEAMS_RETRY_AFTER,
    }
    retried = [d for d in deliveries if d.attempts > 1]
    assert {d.channel.kind for d in retried} <= set(retry_after)
    for kind, answered_429 in [
        (ChannelKind.WEBHOOK, WEBHOOK_THROTTLED),
        (ChannelKind.TEAMS, TEAMS_THROTTLED),
    ]:
        assert sum(d.attempts - 1 for d in by_kind[kind]) == answered_429, kind
    card_at = {card["body"][0]["text"]: run.at for run in runs for card in run.cards}
    late = []
    for delivery in retried:
        waits = sorted(watch.waits.get(delivery.pk, set()))
        assert len(waits) == delivery.attempts - 1, f"{delivery.key}: a 429 wait not seen"
        for attempted, due in waits:
            assert due - attempted == dt.timedelta(seconds=retry_after[delivery.channel.kind])
        # When each retry reached the receiver: the webhook notes every request; Teams shows
        # the accepted one in its run history, and a 429 is recorded just after the answer.
        if delivery.channel.kind == ChannelKind.WEBHOOK:
            reached = sorted(at for key, _, at in webhook.answers if key == delivery.key)[1:]
        else:
            [alert] = delivery.alerts.select_related("event")
            reached = [attempted for attempted, _ in waits[1:]] + [card_at[alert.event.title]]
        assert len(reached) == len(waits), delivery.key
        for (_, due), at in zip(waits, reached, strict=True):
            assert due <= at <= due + LATE_AT_MOST, (delivery.key, due, at)
            late.append((at - due).total_seconds())
    print(
        f"\n{EVENTS} events × {len(channels)} channels with {WORKERS} workers: raised in "
        f"{raised:.1f} s, all {len(deliveries)} delivered {finished:.1f} s after the start; "
        f"{WEBHOOK_THROTTLED + TEAMS_THROTTLED} answers 429 to {len(retried)} deliveries, "
        f"each due again exactly Retry-After later "
        f"(received {min(late):.2f}–{max(late):.2f} s after due)"
    )
