"""The members page: invite, change role, remove; a workspace always keeps an owner."""

from __future__ import annotations

from typing import Any

import pytest
from django.urls import reverse

from tenantatlas.audit.models import AuditEvent
from tenantatlas.lib.errors import Refused
from tenantatlas.testing import client_for, make_user
from tenantatlas.workspaces import services
from tenantatlas.workspaces.models import Membership, Role


def members_url(workspace: Any) -> str:
    return reverse("workspaces:members", kwargs={"slug": workspace.slug})


def role_url(membership: Membership) -> str:
    return reverse(
        "workspaces:member_role", kwargs={"slug": membership.workspace.slug, "pk": membership.pk}
    )


def remove_url(membership: Membership) -> str:
    return reverse(
        "workspaces:member_remove", kwargs={"slug": membership.workspace.slug, "pk": membership.pk}
    )


def membership_of(user: Any, workspace: Any) -> Membership:
    return Membership.objects.get(user=user, workspace=workspace)


def events(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action))


@pytest.fixture
def carol(db: Any) -> Any:
    """A registered user who is not yet a member of any workspace."""
    return make_user("carol")


def test_it_lists_members_with_their_roles(alice: Any, bob: Any, vera: Any, acme: Any) -> None:
    html = client_for(alice).get(members_url(acme)).content.decode()

    for user in (alice, bob, vera):
        assert f'id="member-{membership_of(user, acme).pk}"' in html
    assert "bob@example.test" in html


def test_it_invites_an_existing_user_by_username(alice: Any, carol: Any, acme: Any) -> None:
    response = client_for(alice).post(members_url(acme), {"user": "carol", "role": Role.OPERATOR})

    assert response.status_code == 302
    assert membership_of(carol, acme).role == Role.OPERATOR
    [event] = events("member.added")
    assert event.actor == alice
    assert event.workspace == acme
    assert event.metadata == {"user": "carol", "role": "operator"}


def test_it_invites_an_existing_user_by_email_ignoring_case(
    alice: Any, carol: Any, acme: Any
) -> None:
    response = client_for(alice).post(
        members_url(acme), {"user": "  Carol@Example.TEST ", "role": Role.MANAGER}
    )

    assert response.status_code == 302
    assert membership_of(carol, acme).role == Role.MANAGER
    assert len(events("member.added")) == 1


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ("nobody-here", "No user with this username or e-mail address exists."),
        ("nobody@example.test", "No user with this username or e-mail address exists."),
        ("bob", "bob is already a member."),
        ("", "This field is required."),
    ],
)
def test_it_refuses_unknown_and_duplicate_invitations_with_a_form_error(
    user: str, message: str, alice: Any, bob: Any, acme: Any
) -> None:
    before = (Membership.objects.count(), AuditEvent.objects.count())

    response = client_for(alice).post(members_url(acme), {"user": user, "role": Role.READONLY})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert 'role="alert"' in response.content.decode()
    assert (Membership.objects.count(), AuditEvent.objects.count()) == before
    assert membership_of(bob, acme).role == Role.OPERATOR


def test_it_refuses_an_invalid_role(alice: Any, carol: Any, acme: Any) -> None:
    response = client_for(alice).post(members_url(acme), {"user": "carol", "role": "superuser"})

    assert response.status_code == 200
    assert not Membership.objects.filter(user=carol).exists()


def test_it_asks_for_the_exact_username_when_an_email_matches_several_users(
    alice: Any, acme: Any
) -> None:
    make_user(
        "dave",
    )
    other = make_user("dave2")
    other.email = "DAVE@example.test"
    other.save()

    response = client_for(alice).post(
        members_url(acme), {"user": "dave@example.test", "role": "readonly"}
    )

    assert "Several users match" in response.content.decode()
    assert not Membership.objects.filter(user__username__startswith="dave").exists()


def test_it_changes_a_role_and_audits_it(alice: Any, bob: Any, acme: Any) -> None:
    membership = membership_of(bob, acme)

    response = client_for(alice).post(role_url(membership), {"role": Role.MANAGER}, follow=True)

    membership.refresh_from_db()
    assert membership.role == Role.MANAGER
    assert "bob is now Manager." in response.content.decode()
    [event] = events("member.role_changed")
    assert event.metadata == {"user": "bob", "from": "operator", "to": "manager"}
    assert event.target_id == str(membership.pk)


def test_it_writes_no_event_when_the_role_does_not_change(alice: Any, bob: Any, acme: Any) -> None:
    client_for(alice).post(role_url(membership_of(bob, acme)), {"role": Role.OPERATOR})

    assert events("member.role_changed") == []


def test_it_refuses_an_invalid_role_change(alice: Any, bob: Any, acme: Any) -> None:
    response = client_for(alice).post(
        role_url(membership_of(bob, acme)), {"role": "god"}, follow=True
    )

    assert "Choose a valid role." in response.content.decode()
    assert membership_of(bob, acme).role == Role.OPERATOR
    assert events("member.role_changed") == []


def test_it_removes_a_member_and_audits_it(alice: Any, vera: Any, acme: Any) -> None:
    membership = membership_of(vera, acme)

    response = client_for(alice).post(remove_url(membership), follow=True)

    assert not Membership.objects.filter(pk=membership.pk).exists()
    assert "vera removed from the workspace." in response.content.decode()
    [event] = events("member.removed")
    assert event.metadata == {"user": "vera", "role": "readonly"}
    assert event.target_id == str(membership.pk)
    # vera lost access at once
    assert (
        client_for(vera).get(reverse("providers:list", kwargs={"slug": acme.slug})).status_code
        == 404
    )


def test_it_refuses_to_demote_the_last_owner(alice: Any, maggie: Any, acme: Any) -> None:
    membership = membership_of(alice, acme)

    response = client_for(alice).post(role_url(membership), {"role": Role.MANAGER}, follow=True)

    assert "A workspace must keep at least one owner." in response.content.decode()
    assert membership_of(alice, acme).role == Role.OWNER
    assert events("member.role_changed") == []


def test_it_refuses_to_remove_the_last_owner(alice: Any, maggie: Any, acme: Any) -> None:
    response = client_for(alice).post(remove_url(membership_of(alice, acme)), follow=True)

    assert "A workspace must keep at least one owner." in response.content.decode()
    assert membership_of(alice, acme).role == Role.OWNER
    assert events("member.removed") == []


def test_it_lets_an_owner_step_down_once_another_owner_exists(
    alice: Any, maggie: Any, acme: Any
) -> None:
    client = client_for(alice)
    client.post(role_url(membership_of(maggie, acme)), {"role": Role.OWNER})

    client.post(role_url(membership_of(alice, acme)), {"role": Role.READONLY})

    assert membership_of(alice, acme).role == Role.READONLY
    assert membership_of(maggie, acme).role == Role.OWNER
    assert [e.metadata["to"] for e in events("member.role_changed")] == ["readonly", "owner"]
    # alice no longer manages members
    assert client.get(members_url(acme)).status_code == 403


def test_it_keeps_an_owner_when_the_last_two_owners_step_down_one_after_the_other(
    alice: Any, maggie: Any, acme: Any
) -> None:
    services.change_role(actor=alice, membership=membership_of(maggie, acme), role=Role.OWNER)
    services.change_role(actor=alice, membership=membership_of(alice, acme), role=Role.MANAGER)

    with pytest.raises(Refused) as refused:
        services.remove_member(actor=maggie, membership=membership_of(maggie, acme))

    assert refused.value.code == "last_owner"
    assert Membership.objects.filter(workspace=acme, role=Role.OWNER).count() == 1


def test_it_keeps_owners_of_other_workspaces_out_of_the_count(
    alice: Any, mallory: Any, acme: Any
) -> None:
    """mallory owns Globex: that does not make alice any less the last owner of Acme."""
    with pytest.raises(Refused):
        services.change_role(actor=alice, membership=membership_of(alice, acme), role=Role.READONLY)


def test_it_creates_a_workspace_with_its_creator_as_owner_and_a_unique_slug(
    alice: Any, acme: Any
) -> None:
    first = services.create_workspace(actor=alice, name="Acme IT")
    second = services.create_workspace(actor=alice, name="Acme IT")

    assert first.slug == "acme-it"
    assert second.slug == "acme-it-2"
    assert membership_of(alice, second).role == Role.OWNER
    assert [e.workspace for e in events("workspace.created")] == [second, first]
