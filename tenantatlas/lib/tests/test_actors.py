"""Actors: the system acts under its own name, and never where only a person may."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import PermissionDenied

from tenantatlas.accounts.services import create_api_token
from tenantatlas.audit.models import AuditEvent
from tenantatlas.lib.actors import COMMAND, DEMO, SYSTEM, actor_label, is_user, user_or_none
from tenantatlas.lib.errors import Refused
from tenantatlas.members import services as members
from tenantatlas.notifications.services import mark_all_read, mark_read, notify
from tenantatlas.workspaces.models import Membership, Role, Workspace


def test_it_tells_a_person_from_the_system(alice: Any) -> None:
    assert is_user(alice) is True
    assert is_user(DEMO) is False
    assert is_user(None) is False
    assert user_or_none(alice) == alice
    assert user_or_none(COMMAND) is None
    assert actor_label(alice) == "alice"
    assert actor_label(COMMAND) == "system"


def test_it_audits_a_system_change_as_the_system(acme: Any, alice: Any) -> None:
    membership = Membership.objects.get(workspace=acme, user=alice)

    members.change_role(actor=COMMAND, membership=membership, role=Role.OWNER)
    members.invite_member(actor=COMMAND, workspace=acme, identifier="carol", role=Role.READONLY)

    events = AuditEvent.objects.filter(action__in=["member.role_changed", "invitation.created"])
    assert {(e.actor_id, e.actor_label) for e in events} == {(None, "system")}


def test_it_refuses_a_workspace_created_by_the_system(db: Any) -> None:
    with pytest.raises(PermissionDenied):
        members.create_workspace(actor=SYSTEM, name="Nobody's")

    assert not Workspace.objects.filter(name="Nobody's").exists()


def test_it_refuses_an_invitation_used_by_the_system(acme: Any, alice: Any) -> None:
    invitation, _ = members.invite_member(
        actor=alice, workspace=acme, identifier="carol", role=Role.READONLY
    )

    for use in (members.accept_invitation, members.decline_invitation):
        with pytest.raises(Refused) as refused:
            use(actor=SYSTEM, invitation=invitation)
        assert refused.value.code == "invitation_other_account"
    invitation.refresh_from_db()
    assert invitation.status == "pending"


def test_it_refuses_an_api_token_created_by_the_system(acme: Any, alice: Any) -> None:
    member = Membership.objects.get(workspace=acme, user=alice)

    with pytest.raises(PermissionDenied):
        create_api_token(actor=COMMAND, member=member, name="CI", capabilities=["audit.view"])


def test_it_marks_nothing_read_for_the_system(acme: Any, alice: Any) -> None:
    notification = notify(user=alice, workspace=acme, kind="x", title="Done")

    assert mark_read(actor=SYSTEM, notification=notification) is False
    assert mark_all_read(actor=SYSTEM, workspace=acme) == 0
    notification.refresh_from_db()
    assert notification.read_at is None
