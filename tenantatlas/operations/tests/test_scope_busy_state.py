"""The "scope busy" answer names the active run's real state: queued or running."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tenantatlas.api.tests.conftest import ApiClient, token_for
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.operations.services import ScopeBusy, start_operation
from tenantatlas.testing import client_for, make_connection


def _busy_with(acme, alice, status):
    conn = make_connection(acme, alice)
    first = start_operation(
        actor=alice, member=None, connection=conn, operation_type="inventory.sync"
    )
    OperationRun.objects.filter(pk=first.run.pk).update(status=status)
    return conn


@pytest.mark.parametrize("status", [RunStatus.QUEUED, RunStatus.RUNNING])
def test_it_names_the_active_runs_state_in_the_service_page_and_api(acme, alice, status):
    conn = _busy_with(acme, alice, status)
    expected = f"Scope busy: Inventory sync is {status}"

    with pytest.raises(ScopeBusy) as busy:
        start_operation(
            actor=alice, member=None, connection=conn, operation_type="compliance.snapshot"
        )
    start = reverse("providers:start", args=[acme.slug, conn.pk, "compliance.snapshot"])
    toast = client_for(alice).post(start, headers={"HX-Request": "true"})
    page = client_for(alice).post(start, follow=True)
    api = ApiClient(token_for(alice)).call(
        "POST", "/runs", {"connection_id": conn.pk, "operation_type": "compliance.snapshot"}
    )

    assert busy.value.message.startswith(expected)
    assert expected in toast.content.decode()
    assert expected in page.content.decode()
    assert api.status_code == 409
    assert api.json()["error"]["message"].startswith(expected)
    assert api.json()["error"]["active_run"]["status"] == status
    assert OperationRun.objects.count() == 1
