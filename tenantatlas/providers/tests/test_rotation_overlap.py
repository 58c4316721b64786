"""Rotation with overlap, against the simulator: a new secret waits beside the one in use until
a connection check signed in with it passes; a failed check keeps the old one.

Entra lets an app registration hold several secrets at once (that is what makes the overlap
possible): the simulated apps here know both the old and the new secret, or only the old one.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tenantatlas.audit.models import AuditEvent
from tenantatlas.lib.errors import Refused
from tenantatlas.lib.sanitize import Redactor
from tenantatlas.notifications.models import Notification
from tenantatlas.operations.models import OperationRun, RunStatus, Trigger
from tenantatlas.operations.services import start_operation
from tenantatlas.operations.worker import execute
from tenantatlas.providers.credential_input import SecretInput
from tenantatlas.providers.gateway import ProviderGateway
from tenantatlas.providers.models import (
    ConnectionStatus,
    CredentialState,
    Health,
    ProviderConnection,
    ProviderCredential,
)
from tenantatlas.providers.services.connections import set_connection_status
from tenantatlas.providers.services.partner_apps import update_partner_app
from tenantatlas.providers.services.rotation import (
    discard_pending,
    rotate_credential,
    verify_now,
)
from tenantatlas.providers.tests.helpers import NEW, OLD, ROLES, WRONG, simulated_tenant
from tenantatlas.providers.tests.partner_apps import make_partner_app, make_partner_connection
from tenantatlas.simulator.scenarios import TenantScenario
from tenantatlas.testing import make_connection


@pytest.fixture
def contoso(sim: Any, acme: Any, alice: Any) -> ProviderConnection:
    """A connection whose app knows the old and the new secret; it signs in with the old one."""
    client_id = str(uuid.uuid4())
    tenant_id = simulated_tenant(sim, client_id, [OLD, NEW])
    connection: ProviderConnection = make_connection(
        acme, alice, entra_tenant_id=tenant_id, client_id=client_id, secret=OLD, cloud="simulator"
    )
    ProviderConnection.objects.filter(pk=connection.pk).update(
        health=Health.HEALTHY, health_reason_code=""
    )
    connection.refresh_from_db()
    return connection


def _secret(connection: ProviderConnection, value: str) -> SecretInput:
    credential = connection.current_credential
    assert credential is not None
    return SecretInput(client_id=str(credential.client_id), client_secret=value)


def _run(run: OperationRun, capture: Any) -> OperationRun:
    with capture(execute=True):
        execute(run.pk)
    run.refresh_from_db()
    return run


def _states(connection: ProviderConnection) -> list[tuple[int, str]]:
    rows = ProviderCredential.objects.filter(connection=connection).order_by("version")
    return list(rows.values_list("version", "state"))


def _signs_in_with(connection: ProviderConnection) -> int:
    return ProviderGateway(connection, redactor=Redactor()).current_credential().version


def test_a_new_secret_waits_beside_the_old_one_until_its_check_passes(
    contoso: ProviderConnection, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        proposal = rotate_credential(
            actor=alice, connection=contoso, credential=_secret(contoso, NEW)
        )

    assert _states(contoso) == [(1, "current"), (2, "pending")]
    assert _signs_in_with(contoso) == 1  # every other run keeps the old secret meanwhile
    run = proposal.run
    assert run is not None
    assert (run.operation_type, run.params) == (
        "provider.health_check",
        {"credential_id": str(proposal.credential.pk)},
    )

    run = _run(run, django_capture_on_commit_callbacks)

    assert run.status == RunStatus.SUCCEEDED, (run.reason_code, run.failure_message)
    assert _states(contoso) == [(1, "retired"), (2, "current")]
    assert _signs_in_with(contoso) == 2
    contoso.refresh_from_db()
    assert contoso.health == Health.HEALTHY
    rotated = AuditEvent.objects.get(action="credential.rotated")
    assert rotated.metadata["verification_run_id"] == run.pk
    assert (rotated.metadata["previous"]["version"], rotated.metadata["current"]["version"]) == (
        1,
        2,
    )
    assert AuditEvent.objects.filter(action="credential.added").count() == 1
    notice = Notification.objects.get(user=alice)
    assert "now in use" in notice.body


def test_a_failing_check_keeps_the_old_secret_and_says_why(
    contoso: ProviderConnection, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        proposal = rotate_credential(
            actor=alice, connection=contoso, credential=_secret(contoso, WRONG)
        )
    assert proposal.run is not None

    run = _run(proposal.run, django_capture_on_commit_callbacks)

    assert run.status == RunStatus.FAILED
    assert run.reason_code == "auth.invalid_client_secret"
    assert _states(contoso) == [(1, "current"), (2, "rejected")]
    rejected = ProviderCredential.objects.get(connection=contoso, version=2)
    assert rejected.rejected_reason_code == "auth.invalid_client_secret"
    assert rejected.retired_at is not None
    contoso.refresh_from_db()
    # The check tested a credential nothing uses: the connection's health is untouched.
    assert (contoso.health, contoso.health_reason_code) == (Health.HEALTHY, "")
    event = AuditEvent.objects.get(action="credential.rejected")
    assert event.metadata["reason_code"] == "auth.invalid_client_secret"
    assert "previous credential stays in use" in Notification.objects.get(user=alice).body
    # The old secret still works: the next plain check passes with it.
    with django_capture_on_commit_callbacks(execute=False):
        check = start_operation(
            actor=alice, connection=contoso, operation_type="provider.health_check"
        ).run
    assert _run(check, django_capture_on_commit_callbacks).status == RunStatus.SUCCEEDED


def test_a_busy_connection_verifies_the_new_secret_when_its_run_ends(
    contoso: ProviderConnection, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        sync = start_operation(actor=alice, connection=contoso, operation_type="inventory.sync").run
        proposal = rotate_credential(
            actor=alice, connection=contoso, credential=_secret(contoso, NEW)
        )
    assert proposal.run is None
    assert "when it ends" in proposal.message
    with django_capture_on_commit_callbacks(execute=False):
        assert verify_now(contoso, actor=alice).run is None  # still busy

    assert _run(sync, django_capture_on_commit_callbacks).status == RunStatus.SUCCEEDED

    pending = ProviderCredential.objects.get(connection=contoso, version=2)
    assert pending.state == CredentialState.PENDING
    check = pending.verification_run
    assert check is not None
    assert check.trigger == Trigger.FOLLOW_UP
    assert _run(check, django_capture_on_commit_callbacks).status == RunStatus.SUCCEEDED
    assert _states(contoso) == [(1, "retired"), (2, "current")]


def test_a_newer_secret_supersedes_the_one_still_waiting(
    contoso: ProviderConnection, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        first = rotate_credential(
            actor=alice, connection=contoso, credential=_secret(contoso, WRONG)
        )
        second = rotate_credential(
            actor=alice, connection=contoso, credential=_secret(contoso, NEW)
        )

    assert first.run is not None
    first.run.refresh_from_db()
    assert first.run.status == RunStatus.CANCELLED  # its queued check will never run
    assert _states(contoso) == [(1, "current"), (2, "rejected"), (3, "pending")]
    superseded = ProviderCredential.objects.get(connection=contoso, version=2)
    assert superseded.rejected_reason_code == "rotation.superseded"
    assert second.run is not None
    assert _run(second.run, django_capture_on_commit_callbacks).status == RunStatus.SUCCEEDED
    assert _states(contoso) == [(1, "retired"), (2, "rejected"), (3, "current")]


def test_a_discarded_secret_is_never_used(
    contoso: ProviderConnection, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        proposal = rotate_credential(
            actor=alice, connection=contoso, credential=_secret(contoso, NEW)
        )
        discard_pending(contoso, actor=alice)

    assert proposal.run is not None
    proposal.run.refresh_from_db()
    assert proposal.run.status == RunStatus.CANCELLED
    assert _states(contoso) == [(1, "current"), (2, "rejected")]
    with pytest.raises(Refused):
        discard_pending(contoso, actor=alice)
    with pytest.raises(Refused):
        verify_now(contoso, actor=alice)


def test_a_check_that_outlives_its_credential_changes_nothing(
    contoso: ProviderConnection, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The check started, then the person discarded the credential: its end promotes nothing
    and says nothing about the connection."""
    with django_capture_on_commit_callbacks(execute=False):
        proposal = rotate_credential(
            actor=alice, connection=contoso, credential=_secret(contoso, NEW)
        )
    assert proposal.run is not None
    OperationRun.objects.filter(pk=proposal.run.pk).update(status=RunStatus.RUNNING)
    discard_pending(contoso, actor=alice)
    OperationRun.objects.filter(pk=proposal.run.pk).update(status=RunStatus.QUEUED)

    run = _run(proposal.run, django_capture_on_commit_callbacks)

    assert run.reason_code == "rotation.superseded"
    assert _states(contoso) == [(1, "current"), (2, "rejected")]
    contoso.refresh_from_db()
    assert contoso.health == Health.HEALTHY


def test_a_disabled_connection_takes_the_new_secret_at_once(
    contoso: ProviderConnection, alice: Any
) -> None:
    set_connection_status(actor=alice, connection=contoso, enabled=False)

    proposal = rotate_credential(actor=alice, connection=contoso, credential=_secret(contoso, NEW))

    assert proposal.run is None
    assert _states(contoso) == [(1, "retired"), (2, "current")]
    contoso.refresh_from_db()
    assert contoso.health == Health.UNKNOWN  # the last check tested the old secret
    assert contoso.status == ConnectionStatus.DISABLED
    assert AuditEvent.objects.get(action="credential.rotated").metadata["verified"] is False


# -- the partner app: one credential for all its connections -------------------------------------


@pytest.fixture
def partner(sim: Any, acme: Any, alice: Any) -> Any:
    """A multi-tenant app at home in its own tenant, knowing the old and the new secret, and
    two customer tenants that consented to it."""
    client_id = str(uuid.uuid4())
    simulated_tenant(sim, client_id, [OLD, NEW], multi_tenant=True, required_roles=ROLES)
    partner_app = make_partner_app(acme, alice, client_id=client_id, secret=OLD, cloud="simulator")
    connections = []
    for name in ("Customer One", "Customer Two"):
        customer = str(uuid.uuid4())
        sim.add_tenant(
            TenantScenario(
                tenant_id=customer,
                display_name=name,
                default_domain=f"{customer[:8]}.test",
                device_count=3,
            )
        )
        sim.grant_consent(customer, client_id, ROLES)
        connections.append(make_partner_connection(partner_app, alice, customer, name))
    ProviderConnection.objects.filter(pk=connections[1].pk).update(health=Health.HEALTHY)
    return partner_app, connections


def _rotate_partner(partner_app: Any, alice: Any, secret: str) -> None:
    update_partner_app(
        actor=alice,
        partner_app=partner_app,
        display_name=partner_app.display_name,
        client_id=str(partner_app.client_id),
        cloud=partner_app.cloud,
        credential=SecretInput(client_id=str(partner_app.client_id), client_secret=secret),
    )


def _partner_states(partner_app: Any) -> list[tuple[int, str]]:
    rows = ProviderCredential.objects.filter(partner_app=partner_app).order_by("version")
    return list(rows.values_list("version", "state"))


def test_a_partner_apps_new_secret_is_verified_on_its_healthiest_connection_then_serves_all(
    partner: Any, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    partner_app, (first, second) = partner
    with django_capture_on_commit_callbacks(execute=False):
        _rotate_partner(partner_app, alice, NEW)

    pending = ProviderCredential.objects.get(partner_app=partner_app, version=2)
    assert pending.state == CredentialState.PENDING
    check = pending.verification_run
    assert check is not None
    assert check.connection_id == second.pk  # the healthy one
    assert {_signs_in_with(c) for c in (first, second)} == {1}

    assert _run(check, django_capture_on_commit_callbacks).status == RunStatus.SUCCEEDED

    assert _partner_states(partner_app) == [(1, "retired"), (2, "current")]
    assert {_signs_in_with(c) for c in (first, second)} == {2}
    event = AuditEvent.objects.get(action="credential.rotated")
    assert (event.target_type, event.metadata["connections"]) == ("partnerapp", 2)


def test_a_partner_apps_wrong_secret_leaves_every_connection_on_the_old_one(
    partner: Any, alice: Any, django_capture_on_commit_callbacks: Any
) -> None:
    partner_app, connections = partner
    with django_capture_on_commit_callbacks(execute=False):
        _rotate_partner(partner_app, alice, WRONG)
    check = ProviderCredential.objects.get(partner_app=partner_app, version=2).verification_run
    assert check is not None

    assert _run(check, django_capture_on_commit_callbacks).status == RunStatus.FAILED

    assert _partner_states(partner_app) == [(1, "current"), (2, "rejected")]
    assert {_signs_in_with(c) for c in connections} == {1}
