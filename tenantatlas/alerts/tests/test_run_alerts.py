"""A run that fails tells the rule's members, whoever started it — a schedule included."""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.utils import timezone

from tenantatlas.alerts.models import AlertDelivery, AlertEvent, DeliveryStatus, EventKind
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


def test_a_failing_scheduled_run_alerts_the_rules_members_in_every_channel(
    sim, smtp, acme, alice, maggie, bob, vera, django_capture_on_commit_callbacks
):
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
    assert AlertDelivery.objects.count() == 2  # the default rule: in-app and e-mail

    # In-app: the owner and the manager (the default rule's roles), not the others.
    told = Notification.objects.filter(kind="alert").values_list("user__username", flat=True)
    assert sorted(told) == ["alice", "maggie"]
    note = Notification.objects.filter(kind="alert", user=alice).get()
    assert "Tailspin" in note.title
    assert note.url == f"/w/acme/runs/{run.pk}/"

    # E-mail: one message to both, plain text and HTML, with the link back.
    [message] = smtp.mailbox.messages
    assert sorted(smtp.mailbox.envelopes[0][1]) == sorted([alice.email, maggie.email])
    assert "Tailspin" in message["Subject"]
    text = message.get_body(("plain",)).get_content()
    html = message.get_body(("html",)).get_content()
    link = f"{settings.SITE_URL}/w/acme/runs/{run.pk}/"
    assert link in text
    assert f'href="{link}"' in html
    delivery = AlertDelivery.objects.get(channel__kind="email")
    assert message["Message-ID"] == f"<{delivery.key}@tenantatlas>"


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
