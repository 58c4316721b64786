"""Creating a workspace and changing who is in it: invitations, role changes, removals (audited).

A workspace keeps an owner. Nobody joins a workspace without consent: a manager creates an
invitation, the invitee accepts it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from tenantatlas.accounts.services import revoke_api_tokens_of
from tenantatlas.audit.services import record_event
from tenantatlas.lib.actors import Actor, is_user, user_or_none
from tenantatlas.lib.errors import InvalidInput, Refused
from tenantatlas.workspaces.models import (
    Invitation,
    InvitationStatus,
    Membership,
    Role,
    Workspace,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User


@transaction.atomic
def create_workspace(*, actor: Actor, name: str, slug: str = "") -> Workspace:
    """Create a workspace with the actor as its first owner."""
    if not is_user(actor):
        raise PermissionDenied("A workspace is created by the person who will own it.")
    name = name.strip()
    if not name:
        raise InvalidInput("Enter a workspace name.", field="name")
    base = slugify(slug or name)[:50] or "workspace"
    candidate, n = base, 1
    while Workspace.objects.filter(slug=candidate).exists():
        n += 1
        candidate = f"{base}-{n}"
    workspace = Workspace.objects.create(name=name[:100], slug=candidate)
    Membership.objects.create(workspace=workspace, user=actor, role=Role.OWNER)
    record_event(
        workspace=workspace,
        actor=actor,
        action="workspace.created",
        target=workspace,
        metadata={"slug": candidate},
    )
    return workspace


def _lock_workspace(workspace_id: int) -> None:
    """Serialize changes to a workspace's memberships and invitations (row lock on PostgreSQL)."""
    Workspace.objects.select_for_update().filter(pk=workspace_id).first()


def _add_membership(*, actor: Actor, workspace: Workspace, user: User, role: str) -> Membership:
    """The one path that creates a membership (inside the caller's transaction)."""
    if role not in Role.values:
        raise InvalidInput("Choose a valid role.", field="role")
    _lock_workspace(workspace.pk)
    if Membership.objects.filter(workspace=workspace, user=user).exists():
        raise Refused(
            f"{user.username} is already a member of {workspace.name}.", code="already_member"
        )
    membership = Membership.objects.create(workspace=workspace, user=user, role=role)
    record_event(
        workspace=workspace,
        actor=actor,
        action="member.added",
        target=membership,
        metadata={"user": user.username, "role": role},
    )
    return membership


@transaction.atomic
def add_member(*, actor: Actor, workspace: Workspace, user: User, role: str) -> Membership:
    """Add a user without asking them: for demo seeding and commands only, never a page."""
    return _add_membership(actor=actor, workspace=workspace, user=user, role=role)


def _is_last_owner(membership: Membership) -> bool:
    if membership.role != Role.OWNER:
        return False
    return not (
        Membership.objects.filter(workspace=membership.workspace, role=Role.OWNER)
        .exclude(pk=membership.pk)
        .exists()
    )


@transaction.atomic
def change_role(*, actor: Actor, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise InvalidInput("Choose a valid role.", field="role")
    _lock_workspace(membership.workspace_id)
    membership.refresh_from_db()
    if membership.role == role:
        return membership
    if _is_last_owner(membership):
        raise Refused("A workspace must keep at least one owner.", code="last_owner")
    previous = membership.role
    membership.role = role
    membership.save(update_fields=["role"])
    record_event(
        workspace=membership.workspace,
        actor=actor,
        action="member.role_changed",
        target=membership,
        metadata={"user": membership.user.username, "from": previous, "to": role},
    )
    return membership


@transaction.atomic
def remove_member(*, actor: Actor, membership: Membership) -> None:
    _lock_workspace(membership.workspace_id)
    membership.refresh_from_db()
    if _is_last_owner(membership):
        raise Refused("A workspace must keep at least one owner.", code="last_owner")
    record_event(
        workspace=membership.workspace,
        actor=actor,
        action="member.removed",
        target=membership,
        metadata={"user": membership.user.username, "role": membership.role},
    )
    revoke_api_tokens_of(actor=actor, membership=membership, reason="member_removed")
    membership.delete()


# -- invitations ----------------------------------------------------------------------------------


def hash_invitation_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def normalize_identifier(identifier: str) -> str:
    return (identifier or "").strip().lower()


def _close(invitation: Invitation, *, status: str, actor: Actor) -> None:
    invitation.status = status
    invitation.closed_at = timezone.now()
    invitation.closed_by = user_or_none(actor)
    invitation.save(update_fields=["status", "closed_at", "closed_by"])


def _audit_invitation(invitation: Invitation, *, actor: Actor, action: str, **extra: Any) -> None:
    record_event(
        workspace=invitation.workspace,
        actor=actor,
        action=action,
        target=invitation,
        metadata={"identifier": invitation.identifier, "role": invitation.role, **extra},
    )


@transaction.atomic
def invite_member(
    *, actor: Actor, workspace: Workspace, identifier: str, role: str
) -> tuple[Invitation, str]:
    """Invite a username or e-mail address; returns (invitation, single-use link secret).

    No account is looked up: the answer is the same whether or not one exists (no enumeration).
    A new invitation for the same address replaces a pending one.
    """
    if role not in Role.values:
        raise InvalidInput("Choose a valid role.", field="role")
    identifier = normalize_identifier(identifier)
    if not identifier:
        raise InvalidInput("Enter a username or e-mail address.", field="user")
    _lock_workspace(workspace.pk)
    members = Membership.objects.filter(workspace=workspace).filter(
        Q(user__username__iexact=identifier) | Q(user__email__iexact=identifier)
    )
    if members.exists():
        raise InvalidInput(
            "Already a member of this workspace.", code="already_member", field="user"
        )
    for previous in Invitation.objects.for_workspace(workspace).filter(
        identifier=identifier, status=InvitationStatus.PENDING
    ):
        _close(previous, status=InvitationStatus.REVOKED, actor=actor)
        _audit_invitation(previous, actor=actor, action="invitation.revoked", reason="replaced")
    plaintext = secrets.token_urlsafe(32)
    now = timezone.now()
    invitation = Invitation.objects.create(
        created_at=now,
        workspace=workspace,
        identifier=identifier,
        role=role,
        token_hash=hash_invitation_token(plaintext),
        invited_by=user_or_none(actor),
        expires_at=now + dt.timedelta(days=settings.INVITATION_EXPIRY_DAYS),
    )
    _audit_invitation(
        invitation, actor=actor, action="invitation.created", expires_at=invitation.expires_at
    )
    return invitation, plaintext


def find_invitation_by_token(plaintext: str) -> Invitation | None:
    return (
        Invitation.objects.select_related("workspace", "invited_by")
        .filter(token_hash=hash_invitation_token(plaintext or ""))
        .first()
    )


def is_addressed_to(invitation: Invitation, user: User) -> bool:
    return Invitation.objects.addressed_to(user).filter(pk=invitation.pk).exists()


@transaction.atomic
def revoke_invitation(*, actor: Actor, invitation: Invitation) -> Invitation:
    _lock_workspace(invitation.workspace_id)
    invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
    if invitation.status != InvitationStatus.PENDING:
        raise Refused("This invitation is no longer pending.", code="invitation_closed")
    _close(invitation, status=InvitationStatus.REVOKED, actor=actor)
    _audit_invitation(invitation, actor=actor, action="invitation.revoked", reason="revoked")
    return invitation


CLOSED_MESSAGES = {
    InvitationStatus.ACCEPTED: "This invitation has already been used.",
    InvitationStatus.DECLINED: "This invitation was declined.",
    InvitationStatus.REVOKED: "This invitation was revoked.",
    InvitationStatus.EXPIRED: "This invitation has expired.",
}


def _invitee(actor: Actor) -> User:
    """Only the invited person uses an invitation: the system is never the one it addresses."""
    if not is_user(actor):
        raise Refused("This invitation is for another account.", code="invitation_other_account")
    return actor


def _locked_for(user: User, invitation: Invitation) -> Invitation:
    """The invitation locked, if it is addressed to the user; another account is refused."""
    _lock_workspace(invitation.workspace_id)  # first, as invite_member does: no deadlock
    invitation = (
        Invitation.objects.select_for_update().select_related("workspace").get(pk=invitation.pk)
    )
    if not is_addressed_to(invitation, user):
        raise Refused("This invitation is for another account.", code="invitation_other_account")
    return invitation


def _refuse_unless_pending(invitation: Invitation) -> None:
    if invitation.status != InvitationStatus.PENDING:
        message = CLOSED_MESSAGES[InvitationStatus(invitation.status)]
        raise Refused(message, code="invitation_closed")


@transaction.atomic
def _expire_if_due(*, user: User, invitation: Invitation) -> None:
    """Mark a pending invitation found past its expiry as expired (audited once)."""
    invitation = _locked_for(user, invitation)
    if invitation.status == InvitationStatus.PENDING and invitation.is_expired:
        _close(invitation, status=InvitationStatus.EXPIRED, actor=user)
        _audit_invitation(invitation, actor=user, action="invitation.expired")


# Accepting and declining first mark an expired invitation in a transaction of its own, so the
# mark and its audit row stay although the use itself is then refused.


def accept_invitation(*, actor: Actor, invitation: Invitation) -> Membership:
    """The invited account joins with the invitation's role; the invitation is used up."""
    user = _invitee(actor)
    _expire_if_due(user=user, invitation=invitation)
    return _accept(user=user, invitation=invitation)


@transaction.atomic
def _accept(*, user: User, invitation: Invitation) -> Membership:
    invitation = _locked_for(user, invitation)
    _refuse_unless_pending(invitation)
    membership = _add_membership(
        actor=user, workspace=invitation.workspace, user=user, role=invitation.role
    )
    _close(invitation, status=InvitationStatus.ACCEPTED, actor=user)
    _audit_invitation(invitation, actor=user, action="invitation.accepted")
    return membership


def decline_invitation(*, actor: Actor, invitation: Invitation) -> Invitation:
    """The invited account says no; the invitation is used up and nothing else changes."""
    user = _invitee(actor)
    _expire_if_due(user=user, invitation=invitation)
    return _decline(user=user, invitation=invitation)


@transaction.atomic
def _decline(*, user: User, invitation: Invitation) -> Invitation:
    invitation = _locked_for(user, invitation)
    _refuse_unless_pending(invitation)
    _close(invitation, status=InvitationStatus.DECLINED, actor=user)
    _audit_invitation(invitation, actor=user, action="invitation.declined")
    return invitation
