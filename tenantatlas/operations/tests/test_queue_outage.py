"""A start while the queue (Redis, RQ transport) is down: 503 `queue.unavailable`, scope free.

A redis-server of this test alone is started on a free port and stopped mid-test; the web side
is this process with the RQ transport configured.
"""

from __future__ import annotations

import time

import pytest
from django.urls import reverse

from tenantatlas.api.tests.conftest import ApiClient, token_for
from tenantatlas.audit.models import AuditEvent
from tenantatlas.lib.errors import Refused
from tenantatlas.lib.reasons import get_reason
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.operations.services import start_operation
from tenantatlas.operations.tests.processes import private_redis, use_rq
from tenantatlas.testing import client_for, make_connection


@pytest.fixture
def rq_transport(settings):
    """This process enqueues on a private Redis through django-tasks-rq."""
    with private_redis() as server:
        use_rq(settings, server)
        yield server


def _queued_jobs(server) -> int:
    with server.client() as client:
        return int(client.llen("rq:queue:bulk"))  # the syncs' queue


def _start_path(conn, operation_type="inventory.sync"):
    return reverse(
        "providers:start",
        kwargs={"slug": conn.workspace.slug, "pk": conn.pk, "operation_type": operation_type},
    )


@pytest.mark.django_db(transaction=True)
def test_it_answers_503_and_frees_the_scope_when_the_queue_is_down(acme, alice, rq_transport):
    conn = make_connection(acme, alice)
    rq_transport.stop()

    with pytest.raises(Refused) as refused:
        start_operation(actor=alice, member=None, connection=conn, operation_type="inventory.sync")
    assert (refused.value.status, refused.value.code) == (503, "queue.unavailable")
    assert not OperationRun.objects.active().exists()  # nobody would ever receive it
    run = OperationRun.objects.get()
    assert (run.status, run.reason_code) == (RunStatus.FAILED, "queue.unavailable")
    assert run.failure_message == get_reason("queue.unavailable").message
    assert AuditEvent.objects.filter(
        action="operation.finished",
        target_id=str(run.pk),
        metadata__reason_code="queue.unavailable",
    ).exists()

    page = client_for(alice).post(_start_path(conn), headers={"HX-Request": "true"})
    assert page.status_code == 200
    html = page.content.decode()
    assert "toast-error" in html
    assert get_reason("queue.unavailable").message in html

    asked = time.monotonic()
    api = ApiClient(token_for(alice)).call(
        "POST", "/runs", {"connection_id": conn.pk, "operation_type": "compliance.snapshot"}
    )
    answered_after = time.monotonic() - asked
    assert api.status_code == 503, api.content
    error = api.json()["error"]
    assert error["code"] == "queue.unavailable"
    assert error["message"] == get_reason("queue.unavailable").message
    assert not OperationRun.objects.active().exists()
    assert OperationRun.objects.filter(reason_code="queue.unavailable").count() == 3

    rq_transport.start()  # the queue is back: the next start goes through
    again = start_operation(
        actor=alice, member=None, connection=conn, operation_type="inventory.sync"
    )
    assert again.outcome == "created"
    assert OperationRun.objects.get(pk=again.run.pk).status == RunStatus.QUEUED
    assert _queued_jobs(rq_transport) == 1
    print(
        f"\nQueue outage: API start answered 503 queue.unavailable in {answered_after:.2f}s, "
        "3 refused starts failed, 0 active runs; after the restart the next start is queued"
    )


@pytest.mark.django_db(transaction=True)
def test_it_shows_the_outage_on_the_page_without_htmx(acme, alice, rq_transport):
    conn = make_connection(acme, alice)
    rq_transport.stop()
    client = client_for(alice)
    response = client.post(_start_path(conn), follow=True)
    assert response.status_code == 200
    assert get_reason("queue.unavailable").message in response.content.decode()
    assert not OperationRun.objects.active().exists()

    rq_transport.start()
    ok = client.post(_start_path(conn), follow=True)
    assert "Inventory sync queued" in ok.content.decode()
    assert OperationRun.objects.active().count() == 1
    assert _queued_jobs(rq_transport) == 1
