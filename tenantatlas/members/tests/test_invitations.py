"""Invitations: pending until the invitee accepts (own page or single-use link), expiring, audited."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tenantatlas.audit.models import AuditEvent
from tenantatlas.lib.errors import Refused
from tenantatlas.members import services
from tenantatlas.testing import client_for, make_user
from tenantatlas.workspaces.models import Invitation, InvitationStatus, Membership, Role

MY_INVITATIONS = reverse("members:invitations")


@pytest.fixture
def carol(db: Any) -> Any:
    """A registered user who is not yet a member of any workspace."""
    return make_user("carol")


def invite(inviter: Any, workspace: Any, identifier: str, role: str = Role.OPERATOR) -> str:
    """Invite through the members page; returns the accept link the inviter was shown."""
    members = reverse("members:list", kwargs={"slug": workspace.slug})
    response = client_for(inviter).post(members, {"user": identifier, "role": role})
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    link = re.search(r'id="invitation-link"[^>]*>([^<]+)<', response.content.decode())
    assert link is not None
    return link.group(1)


def actions() -> list[str]:
    return list(AuditEvent.objects.order_by("pk").values_list("action", flat=True))


def accept_url(invitation: Invitation) -> str:
    return reverse("members:invitation_accept", kwargs={"pk": invitation.pk})


def decline_url(invitation: Invitation) -> str:
    return reverse("members:invitation_decline", kwargs={"pk": invitation.pk})


def test_it_shows_the_link_once_and_stores_only_its_hash(alice: Any, acme: Any) -> None:
    link = invite(alice, acme, "carol")

    token = link.rstrip("/").rsplit("/", 1)[1]
    invitation = Invitation.objects.get()
    assert link.startswith("http://testserver/invitations/join/")
    assert len(token) >= 40
    assert invitation.token_hash == services.hash_invitation_token(token) != token
    assert token not in str(list(Invitation.objects.values()))
    assert token not in str(list(AuditEvent.objects.values()))
    assert invitation.expires_at - invitation.created_at == dt.timedelta(days=7)


def test_it_takes_the_expiry_from_the_settings(alice: Any, acme: Any, settings: Any) -> None:
    settings.INVITATION_EXPIRY_DAYS = 2

    invite(alice, acme, "carol")

    invitation = Invitation.objects.get()
    assert invitation.expires_at - invitation.created_at == dt.timedelta(days=2)


@pytest.mark.parametrize(
    "identifier", ["carol", "CAROL", "carol@example.test", "Carol@Example.Test"]
)
def test_it_lists_invitations_for_my_username_or_email_on_my_page(
    identifier: str, alice: Any, carol: Any, mallory: Any, acme: Any
) -> None:
    invite(alice, acme, identifier, role=Role.MANAGER)
    invite(alice, acme, "someone-else@example.test")

    mine = client_for(carol).get(MY_INVITATIONS)
    theirs = client_for(mallory).get(MY_INVITATIONS)

    invitation = Invitation.objects.get(identifier=identifier.lower())
    assert mine.status_code == 200
    assert f'id="invitation-{invitation.pk}"' in mine.content.decode()
    assert "Acme IT" in mine.content.decode()
    assert "Manager" in mine.content.decode()
    assert mine.content.decode().count('id="invitation-') == 1
    assert "Acme IT" not in theirs.content.decode()


def test_it_joins_when_the_invitee_accepts_on_their_page(alice: Any, carol: Any, acme: Any) -> None:
    invite(alice, acme, "carol@example.test", role=Role.OPERATOR)
    invitation = Invitation.objects.get()

    response = client_for(carol).post(accept_url(invitation), follow=True)

    assert response.redirect_chain[0] == (reverse("providers:list", kwargs={"slug": "acme"}), 302)
    assert "You joined Acme IT as Operator." in response.content.decode()
    assert Membership.objects.get(user=carol, workspace=acme).role == Role.OPERATOR
    invitation.refresh_from_db()
    assert (invitation.status, invitation.closed_by) == (InvitationStatus.ACCEPTED, carol)
    assert actions() == ["invitation.created", "member.added", "invitation.accepted"]
    added = AuditEvent.objects.get(action="member.added")
    assert (added.actor, added.metadata["user"], added.metadata["role"]) == (
        carol,
        "carol",
        "operator",
    )


def test_it_declines_and_keeps_the_invitee_out(alice: Any, carol: Any, acme: Any) -> None:
    invite(alice, acme, "carol")
    invitation = Invitation.objects.get()

    response = client_for(carol).post(decline_url(invitation), follow=True)

    assert response.redirect_chain == [(MY_INVITATIONS, 302)]
    assert "Invitation to Acme IT declined." in response.content.decode()
    assert not Membership.objects.filter(user=carol).exists()
    assert Invitation.objects.get().status == InvitationStatus.DECLINED
    assert actions() == ["invitation.created", "invitation.declined"]


def test_it_accepts_through_the_link_once(alice: Any, carol: Any, acme: Any) -> None:
    link = invite(alice, acme, "carol", role=Role.READONLY)
    client = client_for(carol)

    shown = client.get(link)
    accepted = client.post(link, {"action": "accept"})
    again = client.get(link)
    reused = client.post(link, {"action": "accept"})

    assert shown.status_code == 200
    assert "alice invited you to join <strong>Acme IT</strong> as Read-only." in (
        shown.content.decode()
    )
    assert accepted.status_code == 302
    assert accepted["Location"] == reverse("providers:list", kwargs={"slug": "acme"})
    assert Membership.objects.get(user=carol, workspace=acme).role == Role.READONLY
    for closed in (again, reused):
        assert closed.status_code == 410
        assert "This invitation has already been used." in closed.content.decode()
    assert actions().count("member.added") == 1


def test_it_refuses_a_link_opened_by_another_account_without_using_it_up(
    alice: Any, carol: Any, mallory: Any, acme: Any
) -> None:
    link = invite(alice, acme, "carol")

    shown = client_for(mallory).get(link)
    posted = client_for(mallory).post(link, {"action": "accept"})

    for refused in (shown, posted):
        assert refused.status_code == 403
        html = refused.content.decode()
        assert "This invitation is for another account." in html
        assert "Acme IT" not in html
        assert "carol" not in html
    assert not Membership.objects.filter(user=mallory, workspace=acme).exists()
    assert Invitation.objects.get().status == InvitationStatus.PENDING
    # the invited account can still use it
    assert client_for(carol).post(link, {"action": "accept"}).status_code == 302
    assert Membership.objects.filter(user=carol, workspace=acme).exists()


def test_it_sends_a_signed_out_visitor_to_sign_in_and_back(alice: Any, acme: Any) -> None:
    link = invite(alice, acme, "carol")
    path = link.removeprefix("http://testserver")

    response = client_for(None).get(link)

    assert response.status_code == 302
    assert response["Location"] == f"{reverse('accounts:login')}?next={path}"


def test_it_says_so_when_an_invitation_expired_and_audits_the_attempt(
    alice: Any, carol: Any, acme: Any
) -> None:
    link = invite(alice, acme, "carol")
    Invitation.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    client = client_for(carol)

    page = client.get(MY_INVITATIONS)
    shown = client.get(link)
    posted = client.post(link, {"action": "accept"})

    assert 'id="invitation-' not in page.content.decode()
    for closed in (shown, posted):
        assert closed.status_code == 410
        assert "This invitation has expired." in closed.content.decode()
    assert not Membership.objects.filter(user=carol).exists()
    assert Invitation.objects.get().status == InvitationStatus.EXPIRED
    assert actions() == ["invitation.created", "invitation.expired"]


def test_it_refuses_an_expired_invitation_accepted_from_a_stale_page(
    alice: Any, carol: Any, acme: Any
) -> None:
    invite(alice, acme, "carol")
    invitation = Invitation.objects.get()
    Invitation.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    response = client_for(carol).post(accept_url(invitation), follow=True)

    assert "This invitation has expired." in response.content.decode()
    assert not Membership.objects.filter(user=carol).exists()
    assert actions() == ["invitation.created", "invitation.expired"]


def test_it_says_so_when_an_invitation_was_revoked(alice: Any, carol: Any, acme: Any) -> None:
    link = invite(alice, acme, "carol")
    services.revoke_invitation(actor=alice, invitation=Invitation.objects.get())

    response = client_for(carol).post(link, {"action": "accept"})

    assert response.status_code == 410
    assert "This invitation was revoked." in response.content.decode()
    assert not Membership.objects.filter(user=carol).exists()


def test_it_answers_a_clear_404_for_an_unknown_link(carol: Any) -> None:
    url = reverse("members:invitation_link", kwargs={"token": "x" * 43})

    for response in (client_for(carol).get(url), client_for(carol).post(url, {"action": "accept"})):
        assert response.status_code == 404
        assert "This invitation link is not valid." in response.content.decode()


def test_it_ignores_an_unknown_action_on_the_link(alice: Any, carol: Any, acme: Any) -> None:
    link = invite(alice, acme, "carol")

    response = client_for(carol).post(link, {"action": "join-as-owner"})

    assert response.status_code == 400
    assert Invitation.objects.get().status == InvitationStatus.PENDING


def test_it_hides_someone_elses_invitation_on_the_invitee_routes(
    alice: Any, carol: Any, mallory: Any, acme: Any
) -> None:
    invite(alice, acme, "carol")
    invitation = Invitation.objects.get()

    for url in (accept_url(invitation), decline_url(invitation)):
        assert client_for(mallory).post(url).status_code == 404
    assert Invitation.objects.get().status == InvitationStatus.PENDING
    assert not Membership.objects.filter(user=mallory, workspace=acme).exists()


def test_it_lets_only_one_of_two_accounts_sharing_an_address_use_it(alice: Any, acme: Any) -> None:
    first, second = make_user("dave"), make_user("dave2")
    second.email = "DAVE@example.test"
    second.save()
    link = invite(alice, acme, "dave@example.test")

    assert client_for(first).post(link, {"action": "accept"}).status_code == 302
    assert client_for(second).post(link, {"action": "accept"}).status_code == 410
    assert list(Membership.objects.filter(workspace=acme, user__username__startswith="dave")) == [
        Membership.objects.get(user=first)
    ]


def test_it_does_not_add_someone_who_joined_meanwhile_twice(
    alice: Any, carol: Any, acme: Any
) -> None:
    invite(alice, acme, "carol")
    invitation = Invitation.objects.get()
    Membership.objects.create(workspace=acme, user=carol, role=Role.READONLY)

    with pytest.raises(Refused) as refused:
        services.accept_invitation(actor=carol, invitation=invitation)

    assert refused.value.code == "already_member"
    assert Membership.objects.get(user=carol, workspace=acme).role == Role.READONLY


def test_it_refuses_to_revoke_an_answered_invitation(alice: Any, carol: Any, acme: Any) -> None:
    invite(alice, acme, "carol")
    invitation = Invitation.objects.get()
    services.accept_invitation(actor=carol, invitation=invitation)

    response = client_for(alice).post(
        reverse("members:invitation_revoke", kwargs={"slug": "acme", "pk": invitation.pk}),
        follow=True,
    )

    assert "This invitation is no longer pending." in response.content.decode()
    assert Invitation.objects.get().status == InvitationStatus.ACCEPTED
    assert Membership.objects.filter(user=carol, workspace=acme).exists()


def test_it_offers_pending_invitations_to_a_user_without_a_workspace(
    alice: Any, carol: Any, acme: Any
) -> None:
    invite(alice, acme, "carol")

    html = client_for(carol).get(reverse("overview:home"), follow=True).content.decode()

    assert "You are not a member of any workspace yet." in html
    assert "Acme IT" in html
    assert accept_url(Invitation.objects.get()) in html


def test_it_tells_a_member_of_another_workspace_about_a_pending_invitation(
    alice: Any, mallory: Any, acme: Any
) -> None:
    invite(alice, acme, "mallory")

    response = client_for(mallory).get(reverse("overview:home"), follow=True)

    assert response.redirect_chain == [
        (reverse("overview:workspace", kwargs={"slug": "globex"}), 302)
    ]
    assert "You have 1 pending invitation(s): see Invitations." in response.content.decode()
    assert not Membership.objects.filter(user=mallory, workspace=acme).exists()
