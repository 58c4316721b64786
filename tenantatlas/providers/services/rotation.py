"""Rotation with overlap: a new secret or certificate waits beside the one in use until a
connection check signed in with it passes; only then does the old one stop being used.

1. ``propose_credential`` seals the new credential as ``pending`` (the next version; a pending
   one before it is set aside as superseded) and starts its verifying check: a connection check
   whose parameters name the credential. The current one keeps serving every run meanwhile.
2. When the check ends, ``settle_verification`` (a run-ended hook, so in the transaction that
   ends the run) makes the pending credential current and retires the old one if the check
   succeeded or partially succeeded (the credential signed in and Graph answered), and rejects
   it otherwise, keeping the old one. The run's ``note`` says which in the requester's notice.
3. A check cannot start while another operation runs on the connection (scope busy): the
   credential waits, and the end of any run on that connection (or, for the partner app, on any
   of its connections) starts it. "Verify now" and "Discard" on the page do it by hand.

Nothing to verify with (a disabled connection; a partner app without an enabled connection):
nothing uses the credential either, so the new one replaces the old one at once, as it did
before rotation had an overlap; the next check of the connection tells whether it works.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Max, Q
from django.utils import timezone

from tenantatlas.audit.services import record_event
from tenantatlas.lib.actors import RUN_COMPLETION, Actor
from tenantatlas.lib.errors import Refused
from tenantatlas.lib.reasons import get_reason
from tenantatlas.operations.models import OperationRun, RunStatus, Trigger
from tenantatlas.operations.services import cancel_run, start_operation
from tenantatlas.providers.credential_input import CredentialInput
from tenantatlas.providers.models import (
    ConnectionStatus,
    CredentialQuerySet,
    CredentialState,
    Health,
    PartnerApp,
    ProviderConnection,
    ProviderCredential,
)
from tenantatlas.providers.services.credentials import (
    add_credential,
    refuse_partner_connection,
    replace_credential,
)
from tenantatlas.providers.services.health import forget_partner_app_health, reset_health
from tenantatlas.providers.services.locks import lock_workspace

HEALTH_CHECK = "provider.health_check"
PARAM = "credential_id"  # the run parameter naming the credential a check verifies

Owner = ProviderConnection | PartnerApp


@dataclass(frozen=True)
class Proposal:
    """What became of a new credential: ``pending`` (``run`` verifies it, or None while the
    connection is busy) or already ``current`` (nothing to verify it with)."""

    credential: ProviderCredential
    run: OperationRun | None

    @property
    def message(self) -> str:
        return rotation_message(self.credential, self.run)


def rotation_message(credential: ProviderCredential, run: OperationRun | None) -> str:
    """What a person is told once they entered a new credential."""
    if credential.state == CredentialState.CURRENT:
        return (
            "Credential replaced: no enabled connection could verify it first. The next "
            "connection check tells whether it works."
        )
    if run is None:
        return (
            "New credential saved. An operation is running on the connection: a check "
            "verifies the new credential when it ends; the current one stays in use."
        )
    return (
        f"New credential saved. Connection check #{run.pk} verifies it; the current "
        "credential stays in use until it passes."
    )


def last_rotation_message(owner: Owner) -> str:
    """``rotation_message`` of the owner's newest credential (after a form that rotated it)."""
    newest = history_of(owner).select_related("verification_run").first()
    return rotation_message(newest, newest.verification_run) if newest is not None else ""


def history_of(owner: Owner) -> CredentialQuerySet[ProviderCredential]:
    if isinstance(owner, PartnerApp):
        return ProviderCredential.objects.filter(partner_app=owner)
    return ProviderCredential.objects.filter(connection=owner)


def _verifiers(owner: Owner) -> list[ProviderConnection]:
    """The enabled connections a check of the credential may run on, the most trusted first
    (for a partner app: its healthy connections, then the others)."""
    if isinstance(owner, ProviderConnection):
        return [owner] if owner.status == ConnectionStatus.ENABLED else []
    live = owner.connections.filter(deleted_at=None, status=ConnectionStatus.ENABLED)
    ranked = sorted(live, key=lambda c: (c.health != Health.HEALTHY, c.health_checked_at is None))
    return ranked


def _set_aside(
    credential: ProviderCredential,
    owner: Owner,
    code: str,
    *,
    actor: Actor,
    run: OperationRun | None = None,
) -> None:
    """The credential is not used, for reason ``code`` (a verifying ``run``'s, or the person's);
    its queued check, if any, is cancelled. Audited."""
    credential.state = CredentialState.REJECTED
    credential.retired_at = timezone.now()
    credential.rejected_reason_code = code
    message = run.failure_message if run is not None else ""
    credential.rejected_message = (message or get_reason(code).message)[:500]
    credential.save(
        update_fields=["state", "retired_at", "rejected_reason_code", "rejected_message"]
    )
    if run is None:
        _cancel_verification(credential, actor=actor)
    decided_by = {"verification_run_id": run.pk} if run is not None else {}
    _audit(
        owner,
        "credential.rejected",
        actor=actor,
        credential=credential.describe(),
        reason_code=code,
        **decided_by,
    )


def _cancel_verification(credential: ProviderCredential, *, actor: Actor) -> None:
    """Stop a set-aside credential's check if it has not started (its outcome is ignored)."""
    run = credential.verification_run
    if run is not None and run.status == RunStatus.QUEUED:
        # It may have started or ended meanwhile: its end then finds nothing pending.
        with contextlib.suppress(Refused):
            cancel_run(actor=actor, run=run)


def _audit(owner: Owner, action: str, *, actor: Actor, **metadata: object) -> None:
    workspace = owner.workspace
    record_event(workspace=workspace, actor=actor, action=action, target=owner, metadata=metadata)


def start_verification(
    credential: ProviderCredential, *, actor: Actor, trigger: str = Trigger.UI
) -> OperationRun | None:
    """Start the pending credential's check on the first connection that takes it; None when
    every one is busy (the credential waits) or none is enabled."""
    owner: Owner = credential.partner_app or credential.connection  # type: ignore[assignment]
    for connection in _verifiers(owner):
        try:
            result = start_operation(
                actor=actor,
                connection=connection,
                operation_type=HEALTH_CHECK,
                trigger=trigger,
                params={PARAM: str(credential.pk)},
            )
        except Refused:  # busy, disabled or deleted meanwhile: try the next one
            continue
        credential.verification_run = result.run
        credential.save(update_fields=["verification_run"])
        return result.run
    return None


def _replace_at_once(owner: Owner, credential: CredentialInput, *, actor: Actor) -> Proposal:
    """No check could verify it: the new credential is current at once, the old one retired,
    and the last checks (which tested the old one) forgotten."""
    previous, row = replace_credential(owner, credential, actor=actor)
    if isinstance(owner, PartnerApp):
        forget_partner_app_health(owner)
    else:
        reset_health(owner)
        owner.save()
    metadata: dict[str, object] = {
        "previous": previous.describe() if previous else None,
        "current": row.describe(),
        "verified": False,
    }
    _audit(owner, "credential.rotated", actor=actor, **metadata)
    return Proposal(credential=row, run=None)


def _supersede_pending(owner: Owner, *, actor: Actor) -> None:
    for earlier in history_of(owner).pending().select_related("verification_run"):
        _set_aside(earlier, owner, "rotation.superseded", actor=actor)


def rotate(
    owner: Owner, credential: CredentialInput, *, actor: Actor, trigger: str = Trigger.UI
) -> Proposal:
    """Add ``credential`` beside the current one and start its verifying check (the caller
    locks the workspace; inside its transaction). A partner app's connection has none of its
    own to rotate (refused)."""
    if isinstance(owner, ProviderConnection):
        refuse_partner_connection(owner)
    history = history_of(owner)
    current = history.current().first()
    _supersede_pending(owner, actor=actor)
    if current is None or not _verifiers(owner):
        return _replace_at_once(owner, credential, actor=actor)
    last = history.aggregate(v=Max("version"))["v"] or 0
    row = add_credential(owner, credential, actor=actor, version=last + 1, pending=True)
    run = start_verification(row, actor=actor, trigger=trigger)
    _audit(
        owner,
        "credential.added",
        actor=actor,
        credential=row.describe(),
        current=current.describe(),
        verification_run_id=run.pk if run is not None else None,
    )
    return Proposal(credential=row, run=run)


@transaction.atomic
def rotate_credential(
    *,
    actor: Actor,
    connection: ProviderConnection,
    credential: CredentialInput,
    trigger: str = Trigger.UI,
) -> Proposal:
    lock_workspace(connection.workspace)
    return rotate(connection, credential, actor=actor, trigger=trigger)


@transaction.atomic
def verify_now(owner: Owner, *, actor: Actor, trigger: str = Trigger.UI) -> Proposal:
    """Start the waiting credential's check by hand (no run: still busy). Refused without one,
    or while its check is already queued or running. With no enabled connection left to check
    it on, nothing uses either credential: the new one takes over at once, as in ``rotate``."""
    lock_workspace(owner.workspace)
    pending: ProviderCredential | None = (
        history_of(owner).pending().select_related("verification_run").first()
    )
    if pending is None:
        raise Refused("There is no new credential waiting to be verified.", code="no_pending")
    if pending.verification_run is not None and pending.verification_run.is_active:
        raise Refused("Its connection check is already queued or running.", code="run_active")
    if not _verifiers(owner):
        _take_over_unverified(pending, owner, actor=actor)
        return Proposal(credential=pending, run=None)
    return Proposal(pending, start_verification(pending, actor=actor, trigger=trigger))


@transaction.atomic
def discard_pending(owner: Owner, *, actor: Actor) -> ProviderCredential:
    """Set the waiting credential aside unused; the current one stays in use."""
    lock_workspace(owner.workspace)
    pending: ProviderCredential | None = (
        history_of(owner).pending().select_related("verification_run").first()
    )
    if pending is None:
        raise Refused("There is no new credential waiting to be verified.", code="no_pending")
    _set_aside(pending, owner, "rotation.withdrawn", actor=actor)
    return pending


def _make_current(
    pending: ProviderCredential, owner: Owner, *, verified: bool
) -> dict[str, object]:
    """Retire the current credential and put ``pending`` in its place; the audit metadata."""
    previous = history_of(owner).current().select_for_update().first()
    now = timezone.now()
    if previous is not None:
        previous.state = CredentialState.RETIRED
        previous.retired_at = now
        previous.save(update_fields=["state", "retired_at"])
    pending.state = CredentialState.CURRENT
    pending.verified_at = now if verified else None
    pending.save(update_fields=["state", "verified_at"])
    return {"previous": previous.describe() if previous else None, "current": pending.describe()}


def _take_over_unverified(pending: ProviderCredential, owner: Owner, *, actor: Actor) -> None:
    metadata = {**_make_current(pending, owner, verified=False), "verified": False}
    _audit(owner, "credential.rotated", actor=actor, **metadata)


def _promote(pending: ProviderCredential, owner: Owner, run: OperationRun) -> str:
    metadata = {**_make_current(pending, owner, verified=True), "verification_run_id": run.pk}
    if isinstance(owner, PartnerApp):
        metadata["connections"] = owner.connections.filter(deleted_at=None).count()
    _audit(owner, "credential.rotated", actor=RUN_COMPLETION, **metadata)
    return f"It verified the new credential (version {pending.version}): it is now in use."


def _reject(pending: ProviderCredential, owner: Owner, run: OperationRun) -> str:
    code = run.reason_code or "rotation.check_failed"
    _set_aside(pending, owner, code, actor=RUN_COMPLETION, run=run)
    return (
        f"The new credential (version {pending.version}) did not pass and is not used; "
        "the previous credential stays in use."
    )


def settle_verification(run_id: int) -> None:
    """Run-ended hook: a verifying check decides its credential's fate; the end of any run on a
    connection lets a credential waiting for that connection start its check."""
    run = OperationRun.objects.get(pk=run_id)
    credential_id = run.params.get(PARAM)
    if run.operation_type == HEALTH_CHECK and credential_id:
        pending = (
            ProviderCredential.objects.select_for_update(of=("self",))
            .filter(pk=credential_id, state=CredentialState.PENDING)
            .select_related("connection__workspace", "partner_app__workspace")
            .first()
        )
        if pending is not None and pending.verification_run_id == run.pk:
            owner: Owner = pending.partner_app or pending.connection  # type: ignore[assignment]
            passed = run.status in (RunStatus.SUCCEEDED, RunStatus.PARTIALLY_SUCCEEDED)
            note = (_promote if passed else _reject)(pending, owner, run)
            context = {**run.context, "note": note, "credential_verification": pending.state}
            OperationRun.objects.filter(pk=run.pk).update(context=context)
    transaction.on_commit(functools.partial(start_waiting_verifications, run.connection_id))


def start_waiting_verifications(connection_id: int) -> None:
    """After a run on the connection ended: start the check of a credential waiting for it (its
    own, or its partner app's) that has none queued or running."""
    # One query on every run's end. Only a credential that never got its check: one whose check
    # ended without settling it (its hook failed) waits for "Verify now" rather than looping.
    pending = (
        ProviderCredential.objects.pending()
        .filter(verification_run__isnull=True)
        .filter(Q(connection_id=connection_id) | Q(partner_app__connections__id=connection_id))
        .select_related("connection", "partner_app")
        .first()
    )
    if pending is None:
        return
    with transaction.atomic():
        start_verification(pending, actor=RUN_COMPLETION, trigger=Trigger.FOLLOW_UP)
