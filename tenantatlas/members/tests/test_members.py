"""The members page: invite, change role, remove; a workspace always keeps an owner."""

from __future__ import annotations

import io
import re
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tenantatlas.audit.models import AuditEvent
from tenantatlas.lib.errors import Refused
from tenantatlas.members import services
from tenantatlas.testing import client_for, make_user
from tenantatlas.workspaces.models import Invitation, InvitationStatus, Membership, Role


def members_url(workspace: Any) -> str:
    return reverse("members:list", kwargs={"slug": workspace.slug})


def role_url(membership: Membership) -> str:
    return reverse("members:role", kwargs={"slug": membership.workspace.slug, "pk": membership.pk})


def remove_url(membership: Membership) -> str:
    return reverse(
        "members:remove", kwargs={"slug": membership.workspace.slug, "pk": membership.pk}
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


def test_it_invites_instead_of_adding_without_the_invitees_consent(
    alice: Any, carol: Any, acme: Any
) -> None:
    response = client_for(alice).post(members_url(acme), {"user": "carol", "role": Role.OPERATOR})

    assert response.status_code == 200
    assert not Membership.objects.filter(user=carol).exists()
    [invitation] = Invitation.objects.all()
    assert (invitation.workspace, invitation.identifier) == (acme, "carol")
    assert (invitation.role, invitation.status) == (Role.OPERATOR, InvitationStatus.PENDING)
    assert events("member.added") == []
    [event] = events("invitation.created")
    assert (event.actor, event.workspace) == (alice, acme)
    assert event.metadata["identifier"] == "carol"
    assert event.metadata["role"] == "operator"


def test_it_invites_by_email_ignoring_case_and_spaces(alice: Any, carol: Any, acme: Any) -> None:
    response = client_for(alice).post(
        members_url(acme), {"user": "  Carol@Example.TEST ", "role": Role.MANAGER}
    )

    assert response.status_code == 200
    assert Invitation.objects.get().identifier == "carol@example.test"
    assert not Membership.objects.filter(user=carol).exists()
    assert len(events("invitation.created")) == 1


def _page_shape(html: str, identifier: str) -> str:
    """The page with what legitimately differs between two invitations blanked out."""
    html = html.replace(identifier, "IDENTIFIER")
    html = re.sub(r"/invitations/join/[A-Za-z0-9_-]+/", "/invitations/join/TOKEN/", html)
    html = re.sub(r'(id="invitation-|/invitations/)\d+', r"\1N", html)
    html = re.sub(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}", "WHEN", html)
    return re.sub(r'(X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', r"\1", html)


def test_it_answers_the_same_whether_or_not_the_account_exists(
    alice: Any, carol: Any, acme: Any
) -> None:
    """No account enumeration: an invitation for carol and for nobody look exactly alike."""
    client = client_for(alice)
    answers = {}
    for identifier in ("carol@example.test", "nobody@example.test"):
        with CaptureQueriesContext(connection) as queries:
            response = client.post(members_url(acme), {"user": identifier, "role": Role.READONLY})
        answers[identifier] = (
            response.status_code,
            len(queries.captured_queries),
            _page_shape(response.content.decode(), identifier),
        )
        # revoke it so both requests see the same list of pending invitations
        services.revoke_invitation(actor=alice, invitation=Invitation.objects.pending().get())

    known, unknown = answers["carol@example.test"], answers["nobody@example.test"]
    assert known[0] == unknown[0] == 200
    assert known[1] == unknown[1]
    assert known[2] == unknown[2]
    assert "Invitation created for IDENTIFIER" in known[2]
    assert Invitation.objects.count() == 2
    assert not Membership.objects.filter(user=carol).exists()


@pytest.mark.parametrize(
    ("user", "message"),
    [
        ("bob", "Already a member of this workspace."),
        ("BOB@example.test", "Already a member of this workspace."),
        ("", "This field is required."),
    ],
)
def test_it_refuses_to_invite_an_existing_member_with_a_form_error(
    user: str, message: str, alice: Any, bob: Any, acme: Any
) -> None:
    before = (Membership.objects.count(), AuditEvent.objects.count())

    response = client_for(alice).post(members_url(acme), {"user": user, "role": Role.READONLY})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert 'role="alert"' in response.content.decode()
    assert (Membership.objects.count(), AuditEvent.objects.count()) == before
    assert not Invitation.objects.exists()
    assert membership_of(bob, acme).role == Role.OPERATOR


def test_it_refuses_an_invalid_role(alice: Any, carol: Any, acme: Any) -> None:
    response = client_for(alice).post(members_url(acme), {"user": "carol", "role": "superuser"})

    assert response.status_code == 200
    assert not Invitation.objects.exists()
    assert not Membership.objects.filter(user=carol).exists()


def test_it_lists_pending_invitations_and_revokes_one(alice: Any, acme: Any) -> None:
    client = client_for(alice)
    client.post(members_url(acme), {"user": "carol@example.test", "role": Role.OPERATOR})
    invitation = Invitation.objects.get()
    revoke = reverse("members:invitation_revoke", kwargs={"slug": acme.slug, "pk": invitation.pk})

    listed = client.get(members_url(acme)).content.decode()
    response = client.post(revoke, follow=True)

    assert f'id="invitation-{invitation.pk}"' in listed
    assert "carol@example.test" in listed
    assert 'id="invitation-link"' not in listed, "the link is shown only once"
    invitation.refresh_from_db()
    assert (invitation.status, invitation.closed_by) == (InvitationStatus.REVOKED, alice)
    assert "Invitation for carol@example.test revoked." in response.content.decode()
    assert f'id="invitation-{invitation.pk}"' not in response.content.decode()
    [event] = events("invitation.revoked")
    assert event.target_id == str(invitation.pk)


def test_it_replaces_a_pending_invitation_for_the_same_address(alice: Any, acme: Any) -> None:
    client = client_for(alice)
    client.post(members_url(acme), {"user": "carol", "role": Role.READONLY})
    client.post(members_url(acme), {"user": "Carol", "role": Role.MANAGER})

    first, second = Invitation.objects.order_by("pk")
    assert first.status == InvitationStatus.REVOKED
    assert (second.status, second.role) == (InvitationStatus.PENDING, Role.MANAGER)
    assert events("invitation.revoked")[0].metadata["reason"] == "replaced"


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


def test_it_asks_before_removing_a_member(alice: Any, vera: Any, acme: Any) -> None:
    membership = membership_of(vera, acme)

    response = client_for(alice).get(remove_url(membership))

    html = response.content.decode()
    assert response.status_code == 200
    assert "Remove vera from Acme IT?" in html
    assert f'<form method="post" action="{remove_url(membership)}">' in html
    assert Membership.objects.filter(pk=membership.pk).exists()
    assert events("member.removed") == []


def test_it_leads_the_remove_button_to_the_confirmation(alice: Any, vera: Any, acme: Any) -> None:
    """The members page never removes on one click: Remove opens the confirmation."""
    url = remove_url(membership_of(vera, acme))

    html = client_for(alice).get(members_url(acme)).content.decode()

    assert f'href="{url}"' in html
    assert f'action="{url}"' not in html


def test_it_asks_an_owner_removing_themself_in_their_words(alice: Any, acme: Any) -> None:
    response = client_for(alice).get(remove_url(membership_of(alice, acme)))

    html = response.content.decode()
    assert "Remove yourself from Acme IT?" in html
    assert "You lose access to Acme IT" in html


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


def test_it_seeds_the_demo_members_through_the_service_once(
    db: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seeding adds members directly (no one to ask), audited as the system, and only once."""
    monkeypatch.setenv("TENANTATLAS_DEMO_PASSWORD", "demo-password-for-tests")

    call_command("demo", stdout=io.StringIO())
    call_command("demo", stdout=io.StringIO())

    roles = dict(
        Membership.objects.filter(workspace__slug="demo").values_list("user__username", "role")
    )
    assert roles == {"admin": Role.OWNER, "operator": Role.OPERATOR, "viewer": Role.READONLY}
    added = events("member.added")
    assert sorted(e.metadata["user"] for e in added) == ["admin", "operator", "viewer"]
    assert {e.actor_label for e in added} == {"system"}
