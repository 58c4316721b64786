from django.urls import reverse

from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.operations.services import start_operation
from tenantatlas.testing import client_for, make_connection


def test_it_cancels_a_queued_run_from_its_page(acme, alice, bob, vera):
    conn = make_connection(acme, alice)
    run = start_operation(
        actor=alice, member=None, connection=conn, operation_type="inventory.sync"
    ).run
    page = client_for(bob).get(reverse("operations:run", args=["acme", run.pk]))
    assert 'data-action="cancel"' in page.text
    assert (
        'data-action="cancel"'
        not in client_for(vera).get(reverse("operations:run", args=["acme", run.pk])).text
    )
    url = reverse("operations:cancel", args=["acme", run.pk])
    assert client_for(vera).post(url).status_code == 403
    response = client_for(bob).post(url, follow=True)
    assert "Run cancelled." in response.text
    assert OperationRun.objects.get(pk=run.pk).status == RunStatus.CANCELLED
    again = client_for(bob).post(url, follow=True)
    assert "already finished" in again.text


def test_it_asks_a_running_run_to_stop(acme, alice, bob):
    conn = make_connection(acme, alice)
    run = start_operation(
        actor=alice, member=None, connection=conn, operation_type="inventory.sync"
    ).run
    OperationRun.objects.filter(pk=run.pk).update(status=RunStatus.RUNNING)
    response = client_for(bob).post(
        reverse("operations:cancel", args=["acme", run.pk]), follow=True
    )
    assert "Stop requested" in response.text
    run.refresh_from_db()
    assert run.status == RunStatus.RUNNING
    assert run.cancel_requested_at is not None
