"""Credentials of a connection or of the partner app: sealed on entry, rotated with history,
re-sealed on key rotation.

Sealing (encrypting) happens only here; only the gateway opens (decrypts) a credential.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Max
from django.db.models.functions import Coalesce
from django.utils import timezone

from tenantatlas.audit.services import record_event
from tenantatlas.lib import dates
from tenantatlas.lib.actors import Actor, user_or_none
from tenantatlas.lib.errors import Refused
from tenantatlas.lib.reasons import ProviderError
from tenantatlas.providers.credential_input import CredentialInput, SecretInput
from tenantatlas.providers.credentials import CredentialManager
from tenantatlas.providers.models import (
    CredentialKind,
    CredentialState,
    PartnerApp,
    ProviderConnection,
    ProviderCredential,
)
from tenantatlas.workspaces.models import Workspace


def _sealed_row(credential: CredentialInput, manager: CredentialManager) -> ProviderCredential:
    if isinstance(credential, SecretInput):
        ciphertext, key_id = manager.seal({"client_secret": credential.client_secret})
        return ProviderCredential(
            kind=CredentialKind.CLIENT_SECRET,
            client_id=credential.client_id,
            fingerprint=f"Secret set on {timezone.now():%Y-%m-%d}",
            expires_at=credential.expires_at,
            ciphertext=ciphertext,
            key_id=key_id,
        )
    cert = credential.certificate
    ciphertext, key_id = manager.seal(
        {"private_key_pem": cert.private_key_pem, "certificate_pem": cert.certificate_pem}
    )
    return ProviderCredential(
        kind=CredentialKind.CERTIFICATE,
        client_id=credential.client_id,
        fingerprint=f"SHA-1 {cert.thumbprint_sha1}",
        thumbprint_sha1=cert.thumbprint_sha1,
        thumbprint_sha256=cert.thumbprint_sha256,
        certificate_subject=cert.subject,
        expires_at=dates.clamp(cert.not_after),
        ciphertext=ciphertext,
        key_id=key_id,
    )


def add_credential(
    owner: ProviderConnection | PartnerApp,
    credential: CredentialInput,
    *,
    actor: Actor,
    version: int,
    pending: bool = False,
) -> ProviderCredential:
    """Seal `credential` as version `version` of its owner, a connection or the partner app
    (inside the caller's transaction): current, or pending its verifying check."""
    row = _sealed_row(credential, CredentialManager())
    row.state = CredentialState.PENDING if pending else CredentialState.CURRENT
    if isinstance(owner, PartnerApp):
        row.partner_app = owner
    else:
        row.connection = owner
    row.version = version
    row.created_by = user_or_none(actor)
    row.save()
    return row


def replace_credential(
    owner: ProviderConnection | PartnerApp, credential: CredentialInput, *, actor: Actor
) -> tuple[ProviderCredential | None, ProviderCredential]:
    """Retire the owner's current credential and add `credential` as its next version:
    (previous, new). The caller locks and audits."""
    if isinstance(owner, PartnerApp):
        history = ProviderCredential.objects.filter(partner_app=owner)
    else:
        history = ProviderCredential.objects.filter(connection=owner)
    previous = history.current().first()
    if previous is not None:
        previous.state = CredentialState.RETIRED
        previous.retired_at = timezone.now()
        previous.save(update_fields=["state", "retired_at"])
    last = history.aggregate(v=Max("version"))["v"] or 0
    row = add_credential(owner, credential, actor=actor, version=last + 1)
    owner.fetched_current_credentials = [row]
    return previous, row


def refuse_partner_connection(connection: ProviderConnection) -> None:
    """A partner app's connection has no credential of its own to change."""
    if connection.partner_app_id is not None:
        raise Refused(
            "This connection signs in with the workspace's partner app: change the credential "
            "on the partner app page, once for all its connections.",
            code="partner_app_credential",
        )


def rotate_encryption_keys(*, actor: Actor, batch_size: int = 200) -> dict[str, int]:
    """Re-encrypt every credential with the primary key; unreadable rows are left untouched.

    Every workspace with credentials gets one ``credential.keys_rotated`` audit event per run.
    """
    manager = CredentialManager()
    counts = {"reencrypted": 0, "already_current": 0, "unreadable": 0}
    workspace_of = dict(
        ProviderCredential.objects.order_by("pk").values_list(
            "pk", Coalesce("connection__workspace_id", "partner_app__workspace_id")
        )
    )
    tallies: dict[int, dict[str, int]] = {}
    ids = list(workspace_of)
    for start in range(0, len(ids), batch_size):
        for pk, outcome in _reseal_batch(manager, ids[start : start + batch_size]):
            counts[outcome] += 1
            tally = tallies.setdefault(workspace_of[pk], dict.fromkeys(counts, 0))
            tally[outcome] += 1
    _audit_key_rotation(tallies, primary_key_id=manager.primary_key_id, actor=actor)
    return counts


@transaction.atomic
def _reseal_batch(manager: CredentialManager, ids: list[int]) -> list[tuple[int, str]]:
    """Re-seal one batch of rows under a row lock; each row's outcome, in order."""
    outcomes = []
    for row in ProviderCredential.objects.select_for_update().filter(pk__in=ids):
        try:
            ciphertext, key_id = manager.reseal(row.ciphertext)
            outcome = "already_current" if row.key_id == key_id else "reencrypted"
        except ProviderError:  # counted and reported, never overwritten
            outcome = "unreadable"
        if outcome == "reencrypted":
            ProviderCredential.objects.filter(pk=row.pk).update(
                ciphertext=ciphertext, key_id=key_id
            )
        outcomes.append((row.pk, outcome))
    return outcomes


@transaction.atomic
def _audit_key_rotation(
    tallies: dict[int, dict[str, int]], *, primary_key_id: str, actor: Actor
) -> None:
    for workspace in Workspace.objects.filter(pk__in=tallies).order_by("pk"):
        metadata = {**tallies[workspace.pk], "primary_key_id": primary_key_id}
        record_event(
            workspace=workspace, actor=actor, action="credential.keys_rotated", metadata=metadata
        )
