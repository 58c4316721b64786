"""OperationRunCompleted is the only road from a finished run to people, health and audit.

The job never writes notifications or connection health itself: with a listener
disconnected, its effect is gone while the run still finishes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.urls import reverse

from tenantatlas.audit.models import AuditEvent
from tenantatlas.notifications.models import Notification
from tenantatlas.operations import listeners
from tenantatlas.operations.events import operation_run_completed
from tenantatlas.operations.models import RunStatus
from tenantatlas.operations.services import cancel_run, start_operation
from tenantatlas.operations.tests.processes import run_once
from tenantatlas.operations.worker import execute
from tenantatlas.providers import listeners as provider_listeners
from tenantatlas.testing import make_sim_connection

CONTOSO = "5a1c0e4b-7f2d-4c8e-9b6a-3d2f1e0c9b8a"
TAILSPIN = "d1f4b8e2-6a3c-4d5e-8f7a-9b0c1d2e3f4a"  # expired client secret


@contextmanager
def disconnected(listener, dispatch_uid: str) -> Iterator[None]:
    assert operation_run_completed.disconnect(dispatch_uid=dispatch_uid)
    try:
        yield
    finally:
        operation_run_completed.connect(listener, dispatch_uid=dispatch_uid)


def test_it_creates_no_notification_when_the_listener_is_disconnected(
    sim, acme, alice, django_capture_on_commit_callbacks
):
    conn = make_sim_connection(acme, alice, CONTOSO, "contoso-demo-secret")
    with disconnected(listeners.notify_requester, "run-notify"):
        run = run_once(conn, alice, "provider.health_check", django_capture_on_commit_callbacks)
    assert run.status == RunStatus.SUCCEEDED
    assert Notification.objects.count() == 0
    # The event itself was sent: the other listeners did their part.
    assert (
        AuditEvent.objects.filter(action="operation.finished", target_id=str(run.pk)).count() == 1
    )
    conn.refresh_from_db()
    assert conn.health == "healthy"

    # Connected again, the next finished run notifies its requester.
    second = run_once(conn, alice, "provider.health_check", django_capture_on_commit_callbacks)
    assert list(Notification.objects.values_list("url", flat=True)) == [
        reverse("operations:run", kwargs={"slug": "acme", "pk": second.pk})
    ]


def test_it_notifies_exactly_once_per_terminal_run(
    sim, acme, alice, bob, django_capture_on_commit_callbacks
):
    healthy = make_sim_connection(acme, alice, CONTOSO, "contoso-demo-secret")
    expired = make_sim_connection(acme, alice, TAILSPIN, "tailspin-demo-secret")
    succeeded = run_once(healthy, bob, "provider.health_check", django_capture_on_commit_callbacks)
    failed = run_once(expired, bob, "provider.health_check", django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=False):
        queued = start_operation(
            actor=bob, member=None, connection=healthy, operation_type="inventory.sync"
        ).run
    with django_capture_on_commit_callbacks(execute=True):
        cancel_run(actor=bob, member=None, run=queued)

    assert (succeeded.status, failed.status) == (RunStatus.SUCCEEDED, RunStatus.FAILED)
    notes = {n.url: n for n in Notification.objects.filter(user=bob)}
    assert len(notes) == Notification.objects.count() == 3
    for run, kind in (
        (succeeded, "run.succeeded"),
        (failed, "run.failed"),
        (queued, "run.cancelled"),
    ):
        note = notes[reverse("operations:run", kwargs={"slug": "acme", "pk": run.pk})]
        assert note.kind == kind
        assert note.workspace_id == acme.pk
    assert (
        "Client secret expired"
        in notes[reverse("operations:run", kwargs={"slug": "acme", "pk": failed.pk})].body
    )
    finished = AuditEvent.objects.filter(action="operation.finished").order_by("pk")
    assert [(e.target_id, e.metadata["status"]) for e in finished] == [
        (str(succeeded.pk), "succeeded"),
        (str(failed.pk), "failed"),
        (str(queued.pk), "cancelled"),
    ]
    assert finished[1].metadata["reason_code"] == "auth.client_secret_expired"


def test_it_updates_connection_health_in_the_listener_not_the_job(
    sim, acme, alice, django_capture_on_commit_callbacks
):
    conn = make_sim_connection(acme, alice, TAILSPIN, "tailspin-demo-secret")
    with disconnected(provider_listeners.update_connection_health, "run-health"):
        run = run_once(conn, alice, "provider.health_check", django_capture_on_commit_callbacks)
    assert run.reason_code == "auth.client_secret_expired"
    conn.refresh_from_db()
    assert (conn.health, conn.health_checked_at) == ("unknown", None)

    run = run_once(conn, alice, "provider.health_check", django_capture_on_commit_callbacks)
    conn.refresh_from_db()
    assert (conn.health, conn.health_reason_code) == ("unhealthy", "auth.client_secret_expired")
    assert conn.health_checked_at is not None
    assert (
        AuditEvent.objects.filter(
            action="connection.health_changed", target_id=str(conn.pk)
        ).count()
        == 1
    )


@pytest.mark.django_db(transaction=True)
def test_it_runs_every_listener_after_a_real_commit(sim, acme, alice):
    """As in a worker: no surrounding transaction, callbacks run when the finalize commits."""
    conn = make_sim_connection(acme, alice, CONTOSO, "contoso-demo-secret")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("tenantatlas.operations.services.enqueue_run", lambda *a, **k: None)
        run = start_operation(
            actor=alice, member=None, connection=conn, operation_type="provider.health_check"
        ).run
    assert execute(run.pk) == RunStatus.SUCCEEDED
    conn.refresh_from_db()
    assert (conn.health, conn.entra_tenant_name) == ("healthy", "Contoso Ltd")
    assert Notification.objects.filter(user=alice, kind="run.succeeded").count() == 1
    assert (
        AuditEvent.objects.filter(action="operation.finished", target_id=str(run.pk)).count() == 1
    )
