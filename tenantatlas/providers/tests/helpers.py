"""Helpers for the provider connection tests: runs, certificates, form posts."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from typing import Any

from cryptography.hazmat.primitives import serialization
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tenantatlas.audit.models import AuditEvent
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.providers.models import ProviderConnection, ProviderCredential
from tenantatlas.simulator.certs import make_test_certificate
from tenantatlas.simulator.scenarios import AppScenario, SecretSpec, TenantScenario

TENANT_A = "11111111-2222-3333-4444-555555555555"
TENANT_B = "22222222-3333-4444-5555-666666666666"
TENANT_C = "33333333-4444-5555-6666-777777777777"
CLIENT_ID = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def make_run(connection: ProviderConnection, status: str = RunStatus.SUCCEEDED) -> OperationRun:
    """A run row written directly, as the operations package would have left it."""
    return OperationRun.objects.create(
        workspace=connection.workspace,
        connection=connection,
        operation_type="inventory.sync",
        scope_key=f"{connection.workspace_id}:{connection.provider}:{connection.entra_tenant_id}",
        status=status,
    )


@functools.cache
def certificate(
    cn: str = "tenantatlas-test", days_valid: int = 365, key_size: int = 2048
) -> tuple[str, str]:
    """(private key PEM, certificate PEM) of a self-signed RSA certificate, one per name.

    Cached: RSA key generation is the slowest part of these tests. Ask for another name when a
    test needs a different key.
    """
    return make_test_certificate(cn, days_valid=days_valid, key_size=key_size)


@functools.cache
def expired_certificate(cn: str = "expired") -> tuple[str, str]:
    return make_test_certificate(
        cn, days_valid=30, not_before=dt.datetime.now(dt.UTC) - dt.timedelta(days=60)
    )


@functools.cache
def encrypted_key(key_pem: str, passphrase: str) -> str:
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase.encode()),
    ).decode()


@functools.cache
def ec_certificate(cn: str = "ec") -> tuple[str, str]:
    """An EC key and a certificate for it: Entra client credentials need RSA."""
    return make_test_certificate(cn, key_type="ec")


def upload(text: str | bytes, name: str = "file.pem") -> SimpleUploadedFile:
    data = text.encode() if isinstance(text, str) else text
    return SimpleUploadedFile(name, data, content_type="application/x-pem-file")


def secret_form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "display_name": "Contoso",
        "entra_tenant_id": TENANT_A,
        "cloud": "global",
        "client_id": CLIENT_ID,
        "credential_kind": "client_secret",
        "client_secret": "form-secret-" + uuid.uuid4().hex,
    }
    data.update(overrides)
    return data


def certificate_form(cert_pem: str, key_pem: str | None = None, **overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "display_name": "Contoso (certificate)",
        "entra_tenant_id": TENANT_A,
        "cloud": "global",
        "client_id": CLIENT_ID,
        "credential_kind": "certificate",
        "certificate_file": upload(cert_pem, "cert.pem"),
    }
    if key_pem is not None:
        data["private_key_file"] = upload(key_pem, "key.pem")
    data.update(overrides)
    return data


def fresh(connection: ProviderConnection) -> ProviderConnection:
    """The connection as the database holds it now."""
    return ProviderConnection.objects.get(pk=connection.pk)


def url(name: str, workspace: Any, connection: ProviderConnection | None = None) -> str:
    kwargs: dict[str, Any] = {"slug": workspace.slug}
    if connection is not None:
        kwargs["pk"] = connection.pk
    return reverse(f"providers:{name}", kwargs=kwargs)


def counts() -> dict[str, int]:
    """Rows a refused change must leave alone."""
    return {
        "connections": ProviderConnection.objects.count(),
        "credentials": ProviderCredential.objects.count(),
        "audit": AuditEvent.objects.count(),
    }


def actions() -> list[str]:
    """Audit actions, oldest first."""
    return list(AuditEvent.objects.order_by("created_at", "id").values_list("action", flat=True))


def defaults(workspace: Any) -> list[str]:
    return list(
        ProviderConnection.objects.for_workspace(workspace)
        .filter(is_default=True)
        .values_list("display_name", flat=True)
    )


# -- rotation with overlap -------------------------------------------------------------------

ROLES = [
    "Organization.Read.All",
    "DeviceManagementManagedDevices.Read.All",
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementApps.Read.All",
    "DeviceManagementServiceConfig.Read.All",
]
OLD = "old-secret-Q8~rotation-canary"
NEW = "new-secret-Q8~rotation-canary"
WRONG = "mistyped-secret-Q8~rotation-canary"


def simulated_tenant(sim: Any, client_id: str, secrets: list[str], **app: Any) -> str:
    """A simulated tenant whose app registration knows these secrets (Entra keeps several at
    once); its id."""
    tenant_id = str(uuid.uuid4())
    sim.add_tenant(
        TenantScenario(
            tenant_id=tenant_id,
            display_name="Rotation Ltd",
            default_domain="rotation.test",
            device_count=5,
            apps=[
                AppScenario(
                    client_id=client_id,
                    secrets=[SecretSpec(s) for s in secrets],
                    roles=ROLES,
                    **app,
                )
            ],
        )
    )
    return tenant_id
