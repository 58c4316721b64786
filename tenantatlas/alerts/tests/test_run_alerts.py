"""A run that fails tells the rule's members, whoever started it — a schedule included."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from django.utils import timezone

from tenantatlas.alerts.addresses import redact_url
from tenantatlas.alerts.models import (
    AlertChannel,
    AlertDelivery,
    AlertEvent,
    AlertRule,
    ChannelKind,
    DeliveryStatus,
    EventKind,
)
from tenantatlas.alerts.secrets import seal
from tenantatlas.alerts.tests.workers import deliver_due
from tenantatlas.notifications.models import Notification
from tenantatlas.operations.models import OperationRun, RunStatus, Trigger
from tenantatlas.operations.schedules import fire_due_schedules, set_schedule
from tenantatlas.operations.worker import execute
from tenantatlas.testing import make_sim_connection

TAILSPIN = "d1f4b8e2-6a3c-4d5e-8f7a-9b0c1d2e3f4a"  # its client secret has expired


def _fire_schedule(conn, actor, capture) -> OperationRun:
    schedule = set_schedule(
        actor=actor, connection=conn, operation_type="provider.health_check", interval_minutes=60
    )
    with capture(execute=False):
        fire_due_schedules(now=schedule.next_run_at + dt.timedelta(seconds=1))
    run = OperationRun.objects.get(connection=conn)
    with capture(execute=True):
        execute(run.pk)
    run.refresh_from_db()
    return run


def _add_webhook_and_teams(workspace, webhook, workflow_url: str) -> None:
    rule = AlertRule.objects.get(workspace=workspace, event_kind=EventKind.RUN_FAILED)
    rule.channels.add(
        AlertChannel.objects.create(
            workspace=workspace, name="Desk webhook", kind=ChannelKind.WEBHOOK, url=webhook.url,
            secret_ciphertext=seal(webhook.secret),
        ),
        AlertChannel.objects.create(
            workspace=workspace, name="Teams: service desk", kind=ChannelKind.TEAMS,
            secret_ciphertext=seal(workflow_url), url_display=redact_url(workflow_url),
        ),
    )  # fmt: skip


def test_a_failing_scheduled_run_alerts_the_rules_members_in_every_channel(
    sim, smtp, webhook, teams_workflow, settings, tmp_path, acme, alice, maggie, bob, vera,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    # Trust both test CAs: the webhook receiver's and the simulator's (Teams).
    bundle = tmp_path / "receivers-ca.pem"
    bundle.write_text(Path(webhook.ca_file).read_text() + Path(sim.ca_bundle).read_text())
    settings.ALERTS_CA_FILE = str(bundle)
    _add_webhook_and_teams(acme, webhook, teams_workflow.url)
    conn = make_sim_connection(acme, alice, TAILSPIN, "tailspin-demo-secret", name="Tailspin")
    run = _fire_schedule(conn, alice, django_capture_on_commit_callbacks)
    assert (run.status, run.trigger, run.requested_by_id) == (
        RunStatus.FAILED,
        Trigger.SCHEDULE,
        None,
    )

    event = AlertEvent.objects.get(kind=EventKind.RUN_FAILED)
    assert event.key == f"run:{run.pk}"
    assert event.connection_id == conn.pk
    assert deliver_due() == [DeliveryStatus.DELIVERED] * AlertDelivery.objects.count()
    # The run rule's in-app and e-mail channels and the two added to it; the check also made
    # the connection unhealthy, which the health rule announces in-app and by e-mail.
    runs = AlertDelivery.objects.filter(alerts__event=event)
    assert sorted(runs.values_list("channel__kind", flat=True)) == [
        "email", "in_app", "teams", "webhook",
    ]  # fmt: skip
    assert AlertDelivery.objects.exclude(alerts__event=event).count() == 2

    # In-app: the owner and the manager (the default rule's roles), not the others.
    run_url = f"/w/acme/runs/{run.pk}/"
    told = Notification.objects.filter(kind="alert", url=run_url)
    assert sorted(told.values_list("user__username", flat=True)) == ["alice", "maggie"]
    assert "Tailspin" in told.get(user=alice).title

    # E-mail: one message to both, plain text and HTML, with the link back.
    [message] = [m for m in smtp.mailbox.messages if "check failed" in m["Subject"]]
    envelope = smtp.mailbox.envelopes[smtp.mailbox.messages.index(message)]
    assert sorted(envelope[1]) == sorted([alice.email, maggie.email])
    assert "Tailspin" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    link = f"{settings.SITE_URL}/w/acme/runs/{run.pk}/"
    assert link in text
    assert f'href="{link}"' in html
    delivery = runs.get(channel__kind="email")
    assert message["Message-ID"] == f"<{delivery.key}@tenantatlas>"

    # Webhook: signed, the documented schema, the run's facts.
    [request] = webhook.received
    assert request.signature_ok is True
    [alert] = request.json()["alerts"]
    assert alert["facts"]["run_id"] == run.pk
    assert alert["facts"]["trigger"] == "schedule"
    assert alert["facts"]["reason_code"] == run.reason_code

    # Teams: one Adaptive Card in the workflow's channel, linking back to the run.
    [card] = sim.teams.messages(teams_workflow.workflow_id)
    assert card["type"] == "AdaptiveCard"
    assert "Tailspin" in json.dumps(card)
    assert card["actions"][0]["url"] == link


def test_it_raises_the_event_in_the_transaction_that_ends_the_run(acme, alice):
    from tenantatlas.operations.tests.factories import make_run
    from tenantatlas.testing import make_connection

    conn = make_connection(acme, alice)
    run = make_run(acme, conn, status=RunStatus.RUNNING, started_at=timezone.now())
    OperationRun.objects.finish(
        run.pk, status=RunStatus.FAILED, summary_counts={}, context={}, reason_code="graph.timeout"
    )
    # No commit has happened yet in this test's transaction, and the event is there.
    event = AlertEvent.objects.get()
    assert event.facts["status"] == RunStatus.FAILED
    assert AlertDelivery.objects.filter(status=DeliveryStatus.PENDING).count() == 2


def test_a_succeeded_run_raises_nothing(acme, alice):
    from tenantatlas.operations.tests.factories import make_run
    from tenantatlas.testing import make_connection

    conn = make_connection(acme, alice)
    run = make_run(acme, conn, status=RunStatus.RUNNING, started_at=timezone.now())
    OperationRun.objects.finish(run.pk, status=RunStatus.SUCCEEDED, summary_counts={}, context={})
    assert not AlertEvent.objects.exists()
