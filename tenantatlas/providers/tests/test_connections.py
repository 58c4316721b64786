"""Connection lifecycle: the default rules, deletion, credentials kept or rotated, audit."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from tenantatlas.audit.models import AuditEvent
from tenantatlas.lib.errors import Refused
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.providers.credential_input import SecretInput
from tenantatlas.providers.models import (
    ConnectionStatus,
    Health,
    ProviderConnection,
    ProviderCredential,
)
from tenantatlas.providers.services.connections import (
    delete_connection,
    set_connection_status,
    update_connection,
)
from tenantatlas.providers.services.defaults import set_default_connection
from tenantatlas.providers.services.rotation import rotate_credential
from tenantatlas.providers.tests.helpers import (
    CLIENT_ID,
    TENANT_A,
    TENANT_B,
    TENANT_C,
    actions,
    counts,
    defaults,
    fresh,
    make_run,
    secret_form,
    url,
)
from tenantatlas.testing import KNOWN_SECRET, client_for, make_connection


@pytest.fixture
def northwind(alice: Any, acme: Any, fabrikam: ProviderConnection) -> ProviderConnection:
    return make_connection(acme, alice, name="Northwind", entra_tenant_id=TENANT_C)


def current(connection: ProviderConnection) -> ProviderCredential:
    return ProviderCredential.objects.current().get(connection=connection)


# -- create and the default ----------------------------------------------------------------------


def test_it_makes_the_first_connection_the_default(alice: Any, acme: Any) -> None:
    response = client_for(alice).post(url("create", acme), secret_form(display_name="Contoso"))

    connection = ProviderConnection.objects.get()
    assert response.status_code == 302
    assert response["Location"] == url("detail", acme, connection)
    assert connection.is_default
    assert connection.workspace == acme
    assert connection.created_by == alice
    assert connection.status == ConnectionStatus.ENABLED
    assert connection.health == Health.UNKNOWN
    credential = current(connection)
    assert (credential.version, credential.kind, str(credential.client_id)) == (
        1,
        "client_secret",
        CLIENT_ID,
    )
    [event] = AuditEvent.objects.filter(action="connection.created")
    assert event.actor == alice
    assert event.target_id == str(connection.pk)
    assert event.metadata["is_default"] is True
    assert event.metadata["credential"]["version"] == 1


def test_it_does_not_make_a_second_connection_the_default(
    contoso: ProviderConnection, fabrikam: ProviderConnection, acme: Any
) -> None:
    assert fresh(contoso).is_default
    assert not fresh(fabrikam).is_default
    assert defaults(acme) == ["Contoso"]


def test_it_moves_the_default_so_exactly_one_remains(
    alice: Any, acme: Any, contoso: Any, fabrikam: Any, northwind: Any
) -> None:
    client = client_for(alice)

    response = client.post(url("set_default", acme, fabrikam), follow=True)
    assert "“Fabrikam” is now the default connection." in response.content.decode()
    assert defaults(acme) == ["Fabrikam"]

    client.post(url("set_default", acme, northwind))
    assert defaults(acme) == ["Northwind"]
    events = AuditEvent.objects.filter(action="connection.default_set").order_by("id")
    assert [e.target_id for e in events] == [str(fabrikam.pk), str(northwind.pk)]


def test_it_writes_nothing_when_the_default_is_set_again(
    alice: Any, acme: Any, contoso: Any
) -> None:
    before = counts()

    client_for(alice).post(url("set_default", acme, contoso))

    assert counts() == before
    assert defaults(acme) == ["Contoso"]


def test_it_keeps_defaults_per_workspace(
    alice: Any, mallory: Any, acme: Any, globex: Any, contoso: Any
) -> None:
    make_connection(globex, mallory, name="Globex main", entra_tenant_id=TENANT_A)

    assert defaults(acme) == ["Contoso"]
    assert defaults(globex) == ["Globex main"]


def test_it_enforces_one_default_in_the_database(
    acme: Any, contoso: ProviderConnection, fabrikam: ProviderConnection
) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        ProviderConnection.objects.filter(pk=fabrikam.pk).update(is_default=True)


def test_it_enforces_one_connection_per_entra_tenant_in_the_database(
    acme: Any, contoso: ProviderConnection
) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        ProviderConnection.objects.create(
            workspace=acme, display_name="Again", entra_tenant_id=TENANT_A
        )


# -- disable / enable ----------------------------------------------------------------------------


def test_it_refuses_to_disable_the_default_without_naming_a_new_one(
    alice: Any, acme: Any, contoso: Any, fabrikam: Any
) -> None:
    before = counts()

    response = client_for(alice).post(url("status", acme, contoso), {})

    assert response.status_code == 200
    assert "choose another default before you disable it" in response.content.decode()
    assert fresh(contoso).status == ConnectionStatus.ENABLED
    assert defaults(acme) == ["Contoso"]
    assert counts() == before


def test_it_disables_the_default_when_a_new_default_is_named_in_the_same_action(
    alice: Any, acme: Any, contoso: Any, fabrikam: Any
) -> None:
    response = client_for(alice).post(url("status", acme, contoso), {"new_default": fabrikam.pk})

    assert response.status_code == 302
    assert fresh(contoso).status == ConnectionStatus.DISABLED
    assert defaults(acme) == ["Fabrikam"]
    assert actions()[-2:] == ["connection.default_set", "connection.disabled"]


def test_it_disables_and_enables_a_connection_with_audit(
    alice: Any, acme: Any, contoso: Any, fabrikam: Any
) -> None:
    client = client_for(alice)

    client.post(url("status", acme, fabrikam), {})
    assert fresh(fabrikam).status == ConnectionStatus.DISABLED
    client.post(url("status", acme, fabrikam), {"enabled": "1"})

    assert fresh(fabrikam).status == ConnectionStatus.ENABLED
    assert actions()[-2:] == ["connection.disabled", "connection.enabled"]
    assert defaults(acme) == ["Contoso"]


def test_it_refuses_a_new_default_from_another_workspace(
    alice: Any, mallory: Any, acme: Any, globex: Any, contoso: Any, fabrikam: Any
) -> None:
    theirs = make_connection(globex, mallory, name="Theirs", entra_tenant_id=TENANT_C)
    before = counts()

    response = client_for(alice).post(url("status", acme, contoso), {"new_default": theirs.pk})

    assert response.status_code == 200
    assert fresh(contoso).status == ConnectionStatus.ENABLED
    assert fresh(theirs).is_default
    assert counts() == before
    with pytest.raises(Refused):
        set_connection_status(actor=alice, connection=contoso, enabled=False, new_default=theirs)
    assert defaults(acme) == ["Contoso"]


# -- delete --------------------------------------------------------------------------------------


def test_it_refuses_to_delete_the_default_without_naming_a_new_one(
    alice: Any, acme: Any, contoso: Any, fabrikam: Any
) -> None:
    before = counts()

    response = client_for(alice).post(url("delete", acme, contoso), {})

    assert response.status_code == 200
    assert "choose another default before you delete it" in response.content.decode()
    assert fresh(contoso).deleted_at is None
    assert counts() == before
    with pytest.raises(Refused) as refused:
        delete_connection(actor=alice, connection=contoso)
    assert refused.value.code == "default_required"


def test_it_deletes_the_default_when_a_new_default_is_named(
    alice: Any, acme: Any, contoso: Any, fabrikam: Any, northwind: Any
) -> None:
    response = client_for(alice).post(url("delete", acme, contoso), {"new_default": northwind.pk})

    assert response.status_code == 302
    assert fresh(contoso).deleted_at is not None
    assert not fresh(contoso).is_default
    assert defaults(acme) == ["Northwind"]
    assert list(
        ProviderConnection.objects.for_workspace(acme)
        .order_by("display_name")
        .values_list("display_name", flat=True)
    ) == ["Fabrikam", "Northwind"]
    assert actions()[-2:] == ["connection.default_set", "connection.deleted"]
    assert not ProviderCredential.objects.current().filter(connection=contoso).exists()


def test_it_deletes_a_connection_that_is_not_the_default_without_asking(
    alice: Any, acme: Any, contoso: Any, fabrikam: Any
) -> None:
    client_for(alice).post(url("delete", acme, fabrikam), {})

    assert fresh(fabrikam).deleted_at is not None
    assert defaults(acme) == ["Contoso"]


def test_it_deletes_the_last_connection_and_leaves_none(
    alice: Any, acme: Any, contoso: Any
) -> None:
    response = client_for(alice).post(url("delete", acme, contoso), {}, follow=True)

    assert "Connection “Contoso” deleted." in response.content.decode()
    assert not ProviderConnection.objects.for_workspace(acme).exists()
    assert defaults(acme) == []
    assert "No connections yet." in response.content.decode()
    [event] = AuditEvent.objects.filter(action="connection.deleted")
    assert event.metadata == {"entra_tenant_id": TENANT_A}


def test_it_lets_a_deleted_connections_tenant_be_connected_again(
    alice: Any, acme: Any, contoso: Any
) -> None:
    delete_connection(actor=alice, connection=contoso)

    response = client_for(alice).post(url("create", acme), secret_form(entra_tenant_id=TENANT_A))

    assert response.status_code == 302
    again = ProviderConnection.objects.for_workspace(acme).get()
    assert again.pk != contoso.pk
    assert str(again.entra_tenant_id) == TENANT_A
    assert again.is_default
    assert ProviderConnection.objects.filter(entra_tenant_id=TENANT_A).count() == 2


def test_it_keeps_runs_of_a_deleted_connection_readable(
    alice: Any, acme: Any, contoso: Any, fabrikam: Any
) -> None:
    run = make_run(fabrikam, RunStatus.SUCCEEDED)

    delete_connection(actor=alice, connection=fabrikam)

    assert OperationRun.objects.filter(pk=run.pk, connection=fabrikam).exists()
    page = client_for(alice).get(f"/w/{acme.slug}/runs/{run.pk}/")
    assert page.status_code == 200
    assert "Fabrikam" in page.content.decode()
    listing = client_for(alice).get(f"/w/{acme.slug}/runs/")
    assert f"/runs/{run.pk}/" in listing.content.decode()


@pytest.mark.parametrize("status", [RunStatus.QUEUED, RunStatus.RUNNING])
def test_it_refuses_to_delete_a_connection_with_an_active_run(
    status: str, alice: Any, acme: Any, contoso: Any, fabrikam: Any
) -> None:
    run = make_run(fabrikam, status)
    before = counts()

    response = client_for(alice).post(url("delete", acme, fabrikam), {})

    assert response.status_code == 200
    assert "An operation is still running on this connection" in response.content.decode()
    assert fresh(fabrikam).deleted_at is None
    assert counts() == before
    with pytest.raises(Refused) as refused:
        delete_connection(actor=alice, connection=fabrikam)
    assert refused.value.code == "run_active"
    assert refused.value.details["run_id"] == run.pk


def test_it_deletes_once_the_run_has_ended(
    alice: Any, acme: Any, contoso: Any, fabrikam: Any
) -> None:
    run = make_run(fabrikam, RunStatus.QUEUED)
    OperationRun.objects.filter(pk=run.pk).update(status=RunStatus.CANCELLED)

    delete_connection(actor=alice, connection=fabrikam)

    assert fresh(fabrikam).deleted_at is not None


def test_it_refuses_to_make_a_deleted_connection_the_default(
    alice: Any, acme: Any, contoso: Any, fabrikam: Any
) -> None:
    delete_connection(actor=alice, connection=fabrikam)

    with pytest.raises(Refused):
        set_default_connection(actor=alice, connection=fabrikam)
    assert defaults(acme) == ["Contoso"]


# -- edit and rotate -----------------------------------------------------------------------------


def test_it_keeps_the_current_credential_when_the_secret_is_left_empty(
    alice: Any, acme: Any, contoso: Any
) -> None:
    before = current(contoso)

    response = client_for(alice).post(
        url("edit", acme, contoso), secret_form(display_name="Contoso EU", client_secret="")
    )

    assert response.status_code == 302
    after = current(contoso)
    assert after.pk == before.pk
    assert after.version == 1
    assert after.ciphertext == before.ciphertext
    assert after.key_id == before.key_id
    assert fresh(contoso).display_name == "Contoso EU"
    assert ProviderCredential.objects.filter(connection=contoso).count() == 1
    [event] = AuditEvent.objects.filter(action="connection.updated")
    assert event.metadata == {"changes": {"display_name": {"from": "Contoso", "to": "Contoso EU"}}}
    assert not AuditEvent.objects.filter(action="credential.rotated").exists()


def test_it_writes_no_event_for_an_edit_that_changes_nothing(
    alice: Any, acme: Any, contoso: Any
) -> None:
    before = counts()

    client_for(alice).post(url("edit", acme, contoso), secret_form(client_secret=""))

    assert counts() == before


def test_it_adds_the_new_secret_beside_the_old_when_edit_gets_one(
    alice: Any, acme: Any, contoso: Any
) -> None:
    """Rotation with overlap (test_rotation_overlap.py): the old secret stays current until the
    new one's check passes."""
    old = current(contoso)

    client_for(alice).post(
        url("edit", acme, contoso), secret_form(client_secret="a-brand-new-secret-value")
    )

    assert current(contoso) == old
    new = ProviderCredential.objects.pending().get(connection=contoso)
    assert new.version == old.version + 1 == 2
    assert new.ciphertext != old.ciphertext
    assert new.verification_run is not None
    assert new.verification_run.params == {"credential_id": str(new.pk)}
    [event] = AuditEvent.objects.filter(action="credential.added")
    assert event.metadata["current"]["version"] == 1
    assert event.metadata["credential"]["version"] == 2
    assert event.metadata["verification_run_id"] == new.verification_run.pk


def test_it_proposes_on_the_rotate_page_and_keeps_the_health_of_the_one_in_use(
    alice: Any, acme: Any, contoso: Any
) -> None:
    ProviderConnection.objects.filter(pk=contoso.pk).update(
        health=Health.UNHEALTHY, health_reason_code="auth.invalid_client_secret"
    )
    client = client_for(alice)

    for n in range(2):
        response = client.post(
            url("rotate", acme, contoso),
            {
                "client_id": CLIENT_ID,
                "credential_kind": "client_secret",
                "client_secret": f"rotated-{n}-value",
            },
        )
        assert response.status_code == 302

    versions = list(
        ProviderCredential.objects.filter(connection=contoso)
        .order_by("version")
        .values_list("version", "state", "rejected_reason_code")
    )
    assert versions == [
        (1, "current", ""),
        (2, "rejected", "rotation.superseded"),  # the second post replaced it unverified
        (3, "pending", ""),
    ]
    # Nothing changed what the connection signs in with yet: its last check still stands.
    assert fresh(contoso).health == Health.UNHEALTHY
    assert fresh(contoso).health_reason_code == "auth.invalid_client_secret"
    assert actions().count("credential.added") == 2
    assert actions().count("credential.rejected") == 1
    assert actions().count("credential.rotated") == 0


def test_it_shows_the_retired_credentials_on_the_detail_page(
    alice: Any, acme: Any, contoso: Any
) -> None:
    proposal = rotate_credential(
        actor=alice,
        connection=contoso,
        credential=SecretInput(client_id=CLIENT_ID, client_secret="rotated-value"),
    )
    assert proposal.run is not None
    waiting = client_for(alice).get(url("detail", acme, contoso)).content.decode()
    # Its check passes (the lifecycle's own end, as a worker's would be).
    now = timezone.now()
    assert OperationRun.objects.claim(proposal.run.pk, now=now)
    assert OperationRun.objects.finish(
        proposal.run.pk,
        status=RunStatus.SUCCEEDED,
        summary_counts={},
        context=proposal.run.context,
    )

    html = client_for(alice).get(url("detail", acme, contoso)).content.decode()

    assert 'id="credential-pending"' in waiting
    assert f"#{proposal.run.pk}</a>" in waiting
    assert 'id="credential-pending"' not in html
    assert "<summary>History</summary>" in html
    assert re.search(r"<li>v1 · Client secret · [^<]* · <span [^>]*>Retired</span> <small>", html)
    assert re.search(r"<li>v2 · Client secret · [^<]* · <span [^>]*>In use</span>", html)


def test_it_moves_the_client_id_without_touching_the_secret(
    alice: Any, acme: Any, contoso: Any
) -> None:
    before = current(contoso)
    new_client = "bbbbbbbb-cccc-dddd-eeee-ffffffffffff"

    client_for(alice).post(
        url("edit", acme, contoso), secret_form(client_id=new_client, client_secret="")
    )

    after = current(contoso)
    assert str(after.client_id) == new_client
    assert after.ciphertext == before.ciphertext
    [event] = AuditEvent.objects.filter(action="connection.updated")
    assert event.metadata["changes"]["client_id"] == {"from": CLIENT_ID, "to": new_client}


def test_it_writes_every_audit_event_of_a_connections_life(
    alice: Any, acme: Any, contoso: Any
) -> None:
    fabrikam = make_connection(acme, alice, name="Fabrikam", entra_tenant_id=TENANT_B)
    update_connection(
        actor=alice,
        connection=fabrikam,
        display_name="Fabrikam EU",
        entra_tenant_id=TENANT_B,
        cloud="global",
    )
    rotate_credential(
        actor=alice,
        connection=fabrikam,
        credential=SecretInput(client_id=CLIENT_ID, client_secret=KNOWN_SECRET + "2"),
    )
    set_default_connection(actor=alice, connection=fabrikam)
    set_connection_status(actor=alice, connection=contoso, enabled=False)
    set_connection_status(actor=alice, connection=contoso, enabled=True)
    delete_connection(actor=alice, connection=contoso)

    assert actions() == [
        "connection.created",
        "connection.created",
        "connection.updated",
        "operation.started",  # the check that verifies the new secret
        "credential.added",
        "connection.default_set",
        "connection.disabled",
        "connection.enabled",
        "connection.deleted",
    ]
    assert set(AuditEvent.objects.values_list("actor_label", flat=True)) == {"alice"}
    assert set(AuditEvent.objects.values_list("workspace", flat=True)) == {acme.pk}


@pytest.mark.parametrize("seed", range(3))
def test_it_keeps_exactly_one_default_through_any_sequence_of_changes(
    seed: int, alice: Any, acme: Any
) -> None:
    """Random walks over create/delete/disable/enable/set-default, refused steps included.

    Exactly one default while any connection is enabled, and never a disabled one."""
    import random
    import uuid

    rng = random.Random(seed)
    for step in range(40):
        live = list(ProviderConnection.objects.for_workspace(acme))
        action = rng.choice(
            ["create", "delete", "disable", "enable", "default"] if live else ["create"]
        )
        target = rng.choice(live) if live else None
        others = [c for c in live if target is not None and c.pk != target.pk]
        new_default = rng.choice([None, *others]) if others else None
        try:
            if action == "create":
                make_connection(acme, alice, name=f"C{step}", entra_tenant_id=str(uuid.uuid4()))
            elif action == "delete":
                delete_connection(actor=alice, connection=target, new_default=new_default)
            elif action in ("disable", "enable"):
                set_connection_status(
                    actor=alice,
                    connection=target,
                    enabled=action == "enable",
                    new_default=new_default,
                )
            else:
                set_default_connection(actor=alice, connection=target)
        except Refused:
            pass
        after = ProviderConnection.objects.for_workspace(acme)
        enabled = after.filter(status=ConnectionStatus.ENABLED).count()
        assert len(defaults(acme)) == (1 if enabled else 0), f"step {step}: {action}"
        assert not after.filter(is_default=True, status=ConnectionStatus.DISABLED).exists()
    assert not ProviderConnection.objects.filter(deleted_at__isnull=False, is_default=True).exists()
