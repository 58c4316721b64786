"""The start gate: created, deduplicated, scope busy, disabled — each audited, none a 500."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from tenantatlas.audit.models import AuditEvent
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.operations.registry import UnknownOperation
from tenantatlas.operations.services import (
    ConnectionDisabled,
    ScopeBusy,
    cancel_run,
    start_operation,
)
from tenantatlas.providers.services.connections import set_connection_status
from tenantatlas.testing import client_for, make_connection
from tenantatlas.workspaces.models import Membership


def _member(user, workspace):
    return Membership.objects.get(user=user, workspace=workspace)


def test_it_creates_then_deduplicates_the_same_operation(acme, alice):
    conn = make_connection(acme, alice)
    first = start_operation(
        actor=alice, member=_member(alice, acme), connection=conn, operation_type="inventory.sync"
    )
    again = start_operation(
        actor=alice, member=_member(alice, acme), connection=conn, operation_type="inventory.sync"
    )
    assert first.outcome == "created"
    assert again.outcome == "deduplicated"
    assert again.run.pk == first.run.pk
    assert OperationRun.objects.filter(status=RunStatus.QUEUED).count() == 1
    actions = list(
        AuditEvent.objects.filter(action__startswith="operation.").values_list("action", flat=True)
    )
    assert sorted(actions) == ["operation.deduplicated", "operation.started"]


def test_it_refuses_another_operation_on_a_busy_scope(acme, alice):
    conn = make_connection(acme, alice)
    first = start_operation(
        actor=alice, member=None, connection=conn, operation_type="inventory.sync"
    )
    with pytest.raises(ScopeBusy) as busy:
        start_operation(
            actor=alice, member=None, connection=conn, operation_type="compliance.snapshot"
        )
    assert busy.value.active_run.pk == first.run.pk
    assert "Inventory sync is queued" in busy.value.message  # not started yet
    assert AuditEvent.objects.filter(action="operation.scope_busy").count() == 1
    assert OperationRun.objects.count() == 1


def test_it_frees_the_scope_when_the_run_ends(acme, alice):
    conn = make_connection(acme, alice)
    first = start_operation(
        actor=alice, member=None, connection=conn, operation_type="inventory.sync"
    )
    cancel_run(actor=alice, member=None, run=first.run)
    second = start_operation(
        actor=alice, member=None, connection=conn, operation_type="compliance.snapshot"
    )
    assert second.outcome == "created"
    assert OperationRun.objects.get(pk=first.run.pk).status == RunStatus.CANCELLED


def test_it_refuses_a_disabled_connection_and_audits_it(acme, alice):
    conn = make_connection(acme, alice)
    set_connection_status(actor=alice, connection=conn, enabled=False)
    with pytest.raises(ConnectionDisabled):
        start_operation(actor=alice, member=None, connection=conn, operation_type="inventory.sync")
    assert OperationRun.objects.count() == 0
    assert AuditEvent.objects.filter(action="operation.refused").count() == 1


def test_it_refuses_unknown_types_and_missing_capability(acme, alice, vera):
    conn = make_connection(acme, alice)
    with pytest.raises(UnknownOperation):
        start_operation(actor=alice, member=None, connection=conn, operation_type="tenant.delete")
    with pytest.raises(PermissionDenied):
        start_operation(
            actor=vera, member=_member(vera, acme), connection=conn, operation_type="inventory.sync"
        )
    assert OperationRun.objects.count() == 0


def test_it_keeps_scopes_apart_per_tenant(acme, alice):
    one = make_connection(acme, alice)
    two = make_connection(
        acme, alice, name="Fabrikam", entra_tenant_id="22222222-2222-3333-4444-555555555555"
    )
    start_operation(actor=alice, member=None, connection=one, operation_type="inventory.sync")
    other = start_operation(
        actor=alice, member=None, connection=two, operation_type="compliance.snapshot"
    )
    assert other.outcome == "created"


def test_it_shows_a_toast_with_a_link_for_each_outcome(acme, alice, bob):
    conn = make_connection(acme, alice)
    client = client_for(bob)
    url = reverse("providers:start", args=["acme", conn.pk, "inventory.sync"])
    queued = client.post(url, headers={"HX-Request": "true"})
    run = OperationRun.objects.get()
    run_url = reverse("operations:run", args=["acme", run.pk])
    assert queued.status_code == 200
    assert "Inventory sync queued" in queued.text
    assert run_url in queued.text
    again = client.post(url, headers={"HX-Request": "true"})
    assert "Already running" in again.text
    assert run_url in again.text
    busy = client.post(
        reverse("providers:start", args=["acme", conn.pk, "compliance.snapshot"]),
        headers={"HX-Request": "true"},
    )
    assert "Scope busy: Inventory sync is queued" in busy.text
    assert run_url in busy.text
    plain = client.post(url, follow=True)
    assert "Already running" in plain.text
    assert (
        client.post(reverse("providers:start", args=["acme", conn.pk, "nope"])).status_code == 404
    )


def test_it_hides_operation_actions_from_readonly_members(acme, alice, vera):
    conn = make_connection(acme, alice)
    page = client_for(vera).get(reverse("providers:list", args=["acme"]))
    assert page.status_code == 200
    assert "actions-menu" not in page.text
    assert "actions-menu" in client_for(alice).get(reverse("providers:list", args=["acme"])).text
    items = reverse("providers:actions", args=["acme", conn.pk])  # what a row's menu fetches
    assert "data-operation" not in client_for(vera).get(items).text
    assert 'data-operation="inventory.sync"' in client_for(alice).get(items).text


def test_it_authorizes_a_person_whose_membership_the_caller_did_not_pass(
    acme, globex, alice, vera, mallory
):
    conn = make_connection(acme, alice)
    for person in (vera, mallory):  # read-only here; a member of another workspace only
        with pytest.raises(PermissionDenied):
            start_operation(
                actor=person, member=None, connection=conn, operation_type="inventory.sync"
            )
    with pytest.raises(PermissionDenied):  # a membership of another workspace counts for nothing
        start_operation(
            actor=mallory,
            member=Membership.objects.get(user=mallory),
            connection=conn,
            operation_type="inventory.sync",
        )
    assert OperationRun.objects.count() == 0
    run = start_operation(actor=alice, connection=conn, operation_type="inventory.sync").run
    with pytest.raises(PermissionDenied):
        cancel_run(actor=vera, member=None, run=run)
    run.refresh_from_db()
    assert run.status == RunStatus.QUEUED


def test_it_starts_for_the_system_as_no_one_in_particular(acme, alice):
    from tenantatlas.lib.actors import SCHEDULE
    from tenantatlas.operations.models import Trigger

    conn = make_connection(acme, alice)
    run = start_operation(
        actor=SCHEDULE, connection=conn, operation_type="inventory.sync", trigger=Trigger.SCHEDULE
    ).run
    assert (run.requested_by, run.requested_by_label) == (None, "system")
    started = AuditEvent.objects.get(action="operation.started")
    assert (started.actor, started.actor_label) == (None, "system")
