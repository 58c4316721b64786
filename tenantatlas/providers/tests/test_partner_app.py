"""The partner app: one multi-tenant app registration, one credential for all its connections."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.db import IntegrityError, transaction

from tenantatlas.audit.models import AuditEvent
from tenantatlas.lib.errors import InvalidInput, Refused
from tenantatlas.lib.sanitize import Redactor
from tenantatlas.providers.credential_input import SecretInput
from tenantatlas.providers.credentials import CredentialManager
from tenantatlas.providers.gateway import ProviderGateway
from tenantatlas.providers.models import Health, ProviderConnection, ProviderCredential
from tenantatlas.providers.services.connections import update_connection
from tenantatlas.providers.services.credentials import rotate_encryption_keys
from tenantatlas.providers.services.partner_apps import update_partner_app
from tenantatlas.providers.services.rotation import rotate_credential
from tenantatlas.providers.tests.helpers import TENANT_A, TENANT_B
from tenantatlas.providers.tests.partner_apps import (
    PARTNER_CLIENT_ID,
    make_partner_app,
    make_partner_connection,
)
from tenantatlas.testing import KNOWN_SECRET, make_connection

NEW_SECRET = "Np4~rotated-partner-secret-0c9d8e7f"
OTHER_CLIENT_ID = "8d8d8d8d-2e2e-4f4f-9a9a-a1a1a1a1a1a1"


def _plaintext(credential: ProviderCredential) -> str:
    return CredentialManager().open(credential, Redactor()).client_secret or ""


def test_it_seals_the_partner_apps_credential_under_its_client_id(alice: Any, acme: Any) -> None:
    partner_app = make_partner_app(acme, alice)

    credential = partner_app.current_credential
    assert credential is not None
    assert credential.partner_app_id == partner_app.pk
    assert credential.connection_id is None
    assert str(credential.client_id) == PARTNER_CLIENT_ID
    assert credential.ciphertext.startswith("gAAAA")
    assert KNOWN_SECRET not in credential.ciphertext
    assert _plaintext(credential) == KNOWN_SECRET
    event = AuditEvent.objects.get(action="partner_app.created")
    assert event.metadata["credential"]["version"] == 1
    assert KNOWN_SECRET not in str(event.metadata)


def test_it_allows_one_partner_app_per_workspace(alice: Any, acme: Any) -> None:
    make_partner_app(acme, alice)

    with pytest.raises(InvalidInput):
        make_partner_app(acme, alice, name="Second")


@pytest.mark.parametrize("owners", ["none", "both"])
def test_it_gives_every_credential_exactly_one_owner(alice: Any, acme: Any, owners: str) -> None:
    partner_app = make_partner_app(acme, alice)
    connection = make_connection(acme, alice, entra_tenant_id=TENANT_A)
    row = ProviderCredential.objects.get(connection=connection)

    with pytest.raises(IntegrityError), transaction.atomic():
        ProviderCredential.objects.filter(pk=row.pk).update(
            connection=None if owners == "none" else connection,
            partner_app=None if owners == "none" else partner_app,
        )


def test_its_connections_sign_in_with_its_credential_and_their_own_tenant(
    alice: Any, acme: Any
) -> None:
    partner_app = make_partner_app(acme, alice)
    first = make_partner_connection(partner_app, alice, TENANT_A)
    second = make_partner_connection(partner_app, alice, TENANT_B)

    for connection in (first, second):
        gateway = ProviderGateway(connection, redactor=Redactor())
        assert gateway.current_credential() == partner_app.current_credential
        assert connection.current_credential == partner_app.current_credential
        assert not ProviderCredential.objects.filter(connection=connection).exists()
    assert {str(c.entra_tenant_id) for c in partner_app.connections.all()} == {TENANT_A, TENANT_B}


def _new_secret(alice: Any, partner_app: Any) -> None:
    """The partner app's edit form with a new secret (the client id in it is not used)."""
    update_partner_app(
        actor=alice,
        partner_app=partner_app,
        display_name=partner_app.display_name,
        client_id=PARTNER_CLIENT_ID,
        cloud="global",
        credential=SecretInput(client_id="ignored", client_secret=NEW_SECRET),
    )


def test_it_rotates_once_for_every_connection(alice: Any, acme: Any) -> None:
    """One new secret for all: sealed under the app's client id, beside the old one until a
    check on one connection passes (test_rotation_overlap.py runs that check)."""
    partner_app = make_partner_app(acme, alice)
    connections = [make_partner_connection(partner_app, alice, t) for t in (TENANT_A, TENANT_B)]
    ProviderConnection.objects.update(health=Health.HEALTHY)
    old = partner_app.current_credential

    _new_secret(alice, partner_app)

    new = ProviderCredential.objects.pending().get(partner_app=partner_app)
    assert new.version == 2
    assert str(new.client_id) == PARTNER_CLIENT_ID
    assert _plaintext(new) == NEW_SECRET
    assert new.verification_run is not None
    assert new.verification_run.connection_id in {c.pk for c in connections}
    for connection in connections:
        assert ProviderGateway(connection, redactor=Redactor()).current_credential() == old
        connection.refresh_from_db()
        assert connection.health == Health.HEALTHY  # nothing it signs in with has changed
    event = AuditEvent.objects.get(action="credential.added")
    assert event.target_type == "partnerapp"


def test_without_an_enabled_connection_it_rotates_at_once(alice: Any, acme: Any) -> None:
    partner_app = make_partner_app(acme, alice)

    _new_secret(alice, partner_app)

    current = ProviderCredential.objects.current().get(partner_app=partner_app)
    assert (current.version, _plaintext(current)) == (2, NEW_SECRET)
    event = AuditEvent.objects.get(action="credential.rotated")
    assert (event.target_type, event.metadata["verified"]) == ("partnerapp", False)


def test_a_new_client_id_alone_keeps_the_secret(alice: Any, acme: Any) -> None:
    partner_app = make_partner_app(acme, alice)

    update_partner_app(
        actor=alice,
        partner_app=partner_app,
        display_name="Renamed",
        client_id=OTHER_CLIENT_ID,
        cloud="global",
    )

    current = ProviderCredential.objects.current().get(partner_app=partner_app)
    assert str(current.client_id) == OTHER_CLIENT_ID
    assert current.version == 1
    changes = AuditEvent.objects.get(action="partner_app.updated").metadata["changes"]
    assert set(changes) == {"display_name", "client_id"}


def test_it_keeps_the_cloud_while_connections_use_the_app(alice: Any, acme: Any) -> None:
    partner_app = make_partner_app(acme, alice)
    make_partner_connection(partner_app, alice, TENANT_A)

    with pytest.raises(InvalidInput):
        update_partner_app(
            actor=alice,
            partner_app=partner_app,
            display_name=partner_app.display_name,
            client_id=PARTNER_CLIENT_ID,
            cloud="china",
        )


def test_a_partner_connection_has_no_credential_of_its_own_to_rotate(alice: Any, acme: Any) -> None:
    partner_app = make_partner_app(acme, alice)
    connection = make_partner_connection(partner_app, alice, TENANT_A)
    secret = SecretInput(client_id=PARTNER_CLIENT_ID, client_secret=NEW_SECRET)

    with pytest.raises(Refused):
        rotate_credential(actor=alice, connection=connection, credential=secret)
    with pytest.raises(Refused):
        update_connection(
            actor=alice,
            connection=connection,
            display_name="Renamed",
            entra_tenant_id=TENANT_A,
            cloud="global",
            credential=secret,
        )

    assert ProviderCredential.objects.count() == 1


def test_it_re_seals_partner_credentials_when_the_keys_rotate(
    alice: Any, acme: Any, settings: Any
) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.ENCRYPTION_KEYS = [old]
    partner_app = make_partner_app(acme, alice)
    make_connection(acme, alice, entra_tenant_id=TENANT_A)
    settings.ENCRYPTION_KEYS = [new, old]

    counts = rotate_encryption_keys(actor=alice)

    assert counts == {"reencrypted": 2, "already_current": 0, "unreadable": 0}
    settings.ENCRYPTION_KEYS = [new]
    credential = partner_app.credentials.get()
    assert _plaintext(credential) == KNOWN_SECRET
    event = AuditEvent.objects.get(action="credential.keys_rotated")
    assert event.workspace_id == acme.pk
    assert event.metadata["reencrypted"] == 2


def test_the_connection_list_reads_partner_credentials_without_a_query_per_row(
    alice: Any, acme: Any, django_assert_max_num_queries: Any
) -> None:
    partner_app = make_partner_app(acme, alice)
    for n in range(5):
        make_partner_connection(partner_app, alice, f"{n}1111111-2222-3333-4444-555555555555")
    make_connection(acme, alice, entra_tenant_id=TENANT_B)

    with django_assert_max_num_queries(4):
        rows = list(ProviderConnection.objects.for_workspace(acme).with_current_credential())
        credentials = {c.current_credential for c in rows}

    assert len(rows) == 6
    assert len(credentials) == 2


def test_its_credential_expiry_is_announced_with_a_link_to_its_page(alice: Any, acme: Any) -> None:
    import datetime as dt

    from django.utils import timezone

    from tenantatlas.alerts.models import AlertEvent
    from tenantatlas.providers.alert_events import scan_credential_expiry

    now = timezone.now()
    partner_app = make_partner_app(acme, alice)
    make_partner_connection(partner_app, alice, TENANT_A)
    ProviderCredential.objects.filter(partner_app=partner_app).update(
        expires_at=now + dt.timedelta(days=5)
    )

    assert scan_credential_expiry(now) == 1
    assert scan_credential_expiry(now) == 0

    event = AlertEvent.objects.get()
    assert event.title == "Credential expires within 7 days: Acme MSP partner app"
    assert event.path == f"/w/{acme.slug}/onboarding/partner-app/"
    assert event.connection_id is None
    assert "Every connection of the partner app" in event.body
