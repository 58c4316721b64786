"""Workspaces and memberships: creation, invitations, role changes. A workspace keeps an owner."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q
from django.utils.text import slugify

from tenantatlas.audit.services import record_event
from tenantatlas.lib.errors import InvalidInput, Refused
from tenantatlas.workspaces.models import Membership, Role, Workspace


@transaction.atomic
def create_workspace(*, actor: Any, name: str, slug: str = "") -> Workspace:
    """Create a workspace with the actor as its first owner."""
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


def _lock_memberships(workspace: Workspace) -> None:
    Workspace.objects.select_for_update().filter(pk=workspace.pk).first()


@transaction.atomic
def add_member(
    *, actor: Any, workspace: Workspace, username_or_email: str, role: str
) -> Membership:
    """Invite an existing user by username or e-mail address."""
    if role not in Role.values:
        raise InvalidInput("Choose a valid role.", field="role")
    ident = username_or_email.strip()
    if not ident:
        raise InvalidInput("Enter a username or e-mail address.", field="user")
    users = get_user_model().objects.filter(Q(username__iexact=ident) | Q(email__iexact=ident))
    matches = list(users[:2])
    if not matches:
        raise InvalidInput(
            "No user with this username or e-mail address exists. "
            "Ask an administrator to create the account first.",
            field="user",
        )
    if len(matches) > 1:
        raise InvalidInput("Several users match: enter the exact username instead.", field="user")
    user = matches[0]
    _lock_memberships(workspace)
    if Membership.objects.filter(workspace=workspace, user=user).exists():
        raise InvalidInput(f"{user.username} is already a member.", field="user")
    membership = Membership.objects.create(workspace=workspace, user=user, role=role)
    record_event(
        workspace=workspace,
        actor=actor,
        action="member.added",
        target=membership,
        metadata={"user": user.username, "role": role},
    )
    return membership


def _is_last_owner(membership: Membership) -> bool:
    if membership.role != Role.OWNER:
        return False
    return not (
        Membership.objects.filter(workspace=membership.workspace, role=Role.OWNER)
        .exclude(pk=membership.pk)
        .exists()
    )


@transaction.atomic
def change_role(*, actor: Any, membership: Membership, role: str) -> Membership:
    if role not in Role.values:
        raise InvalidInput("Choose a valid role.", field="role")
    _lock_memberships(membership.workspace)
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
def remove_member(*, actor: Any, membership: Membership) -> None:
    _lock_memberships(membership.workspace)
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
    membership.delete()
