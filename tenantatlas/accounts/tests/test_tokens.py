"""API tokens: shown once, stored hashed, last use, expiry, revocation, capability subsets."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tenantatlas.accounts.models import ApiToken
from tenantatlas.accounts.services import (
    LAST_USED_RESOLUTION,
    TOKEN_PATTERN,
    authenticate_token,
    create_api_token,
    hash_token,
    revoke_api_token,
)
from tenantatlas.audit.models import AuditEvent
from tenantatlas.lib.errors import InvalidInput, Refused
from tenantatlas.members.services import change_role, remove_member
from tenantatlas.testing import client_for
from tenantatlas.workspaces.capabilities import (
    AUDIT_VIEW,
    PROVIDER_MANAGE,
    PROVIDER_RUN,
    PROVIDER_VIEW,
    can,
)
from tenantatlas.workspaces.models import Membership, Role


def _member(user: Any) -> Membership:
    return Membership.objects.select_related("workspace").get(user=user)


def _create(user: Any, capabilities: Any = (PROVIDER_VIEW,), **kwargs: Any) -> tuple[ApiToken, str]:
    return create_api_token(
        actor=user, member=_member(user), name="CI", capabilities=capabilities, **kwargs
    )


def _all_text_in_the_database() -> str:
    """Every text-ish value of every table, to prove the plaintext is stored nowhere."""
    chunks = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            cursor.execute(f'SELECT * FROM "{table}"')
            chunks.extend(str(value) for row in cursor.fetchall() for value in row)
    return "\n".join(chunks)


def test_it_returns_the_plaintext_once_and_stores_only_its_hash(alice: Any) -> None:
    token, plaintext = _create(alice)

    assert TOKEN_PATTERN.match(plaintext)
    assert plaintext.startswith(f"ta_{token.prefix}_")
    assert token.token_hash == hash_token(plaintext) != plaintext
    stored = _all_text_in_the_database()
    assert plaintext not in stored
    assert plaintext.split("_")[2] not in stored


def test_it_authenticates_the_token_as_its_owner_in_its_workspace(alice: Any, acme: Any) -> None:
    token, plaintext = _create(alice, capabilities=[PROVIDER_VIEW, PROVIDER_RUN])

    found = authenticate_token(plaintext)

    assert found is not None
    found_token, member = found
    assert found_token.pk == token.pk
    assert member.user == alice
    assert member.workspace == acme
    assert can(member, PROVIDER_RUN)
    assert not can(member, PROVIDER_MANAGE)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "ta_",
        "garbage",
        "ta_abcdefgh_short",
        "ta_ABCDEFGH_" + "a" * 40,
        "Bearer ta_abcdefgh_" + "a" * 40,
    ],
)
def test_it_refuses_malformed_tokens(raw: str, alice: Any) -> None:
    _create(alice)

    assert authenticate_token(raw) is None


def test_it_refuses_a_token_with_the_right_prefix_and_a_wrong_secret(alice: Any) -> None:
    _, plaintext = _create(alice)
    forged = plaintext[:-1] + ("A" if plaintext[-1] != "A" else "B")

    assert authenticate_token(forged) is None


def test_it_records_the_last_use_at_most_once_a_minute(alice: Any) -> None:
    token, plaintext = _create(alice)
    assert token.last_used_at is None

    authenticate_token(plaintext)
    first = ApiToken.objects.get(pk=token.pk).last_used_at
    authenticate_token(plaintext)
    second = ApiToken.objects.get(pk=token.pk).last_used_at
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=timezone.now() - LAST_USED_RESOLUTION)
    authenticate_token(plaintext)
    third = ApiToken.objects.get(pk=token.pk).last_used_at

    assert first is not None
    assert second == first
    assert third is not None
    assert third > first


def test_it_refuses_an_expired_token(alice: Any) -> None:
    token, plaintext = _create(alice, expires_at=timezone.now() + dt.timedelta(hours=1))
    assert authenticate_token(plaintext) is not None

    ApiToken.objects.filter(pk=token.pk).update(expires_at=timezone.now() - dt.timedelta(seconds=1))

    assert authenticate_token(plaintext) is None
    assert ApiToken.objects.get(pk=token.pk).state == "expired"


def test_it_refuses_an_expiry_in_the_past(alice: Any) -> None:
    with pytest.raises(InvalidInput) as refused:
        _create(alice, expires_at=timezone.now() - dt.timedelta(minutes=1))

    assert refused.value.field == "expires_at"


def test_it_revokes_at_once_and_audits_it(alice: Any) -> None:
    token, plaintext = _create(alice)

    revoke_api_token(actor=alice, token=token)

    assert authenticate_token(plaintext) is None
    token.refresh_from_db()
    assert token.state == "revoked"
    assert token.revoked_by == alice
    event = AuditEvent.objects.get(action="api_token.revoked")
    assert event.target_id == str(token.pk)
    assert plaintext not in str(event.metadata)


def test_it_lets_only_the_owner_or_workspace_manage_revoke(
    alice: Any, maggie: Any, bob: Any
) -> None:
    bobs, _ = _create(bob)

    with pytest.raises(PermissionDenied):
        revoke_api_token(actor=maggie, token=bobs)  # a manager lacks workspace.manage
    revoke_api_token(actor=alice, token=bobs)  # the owner holds it

    assert ApiToken.objects.get(pk=bobs.pk).revoked_by == alice


def test_it_refuses_capabilities_beyond_the_creators_role(bob: Any) -> None:
    with pytest.raises(InvalidInput) as refused:
        _create(bob, capabilities=[PROVIDER_VIEW, PROVIDER_MANAGE])

    assert refused.value.code == "capability_not_held"
    assert not ApiToken.objects.exists()


@pytest.mark.parametrize("capabilities", [[], ["provider.fly"]])
def test_it_refuses_empty_or_unknown_capabilities(capabilities: list[str], alice: Any) -> None:
    with pytest.raises(InvalidInput):
        _create(alice, capabilities=capabilities)


def test_it_narrows_tokens_when_the_role_is_lowered(alice: Any, maggie: Any) -> None:
    _, plaintext = _create(maggie, capabilities=[PROVIDER_VIEW, PROVIDER_MANAGE, AUDIT_VIEW])
    assert can(authenticate_token(plaintext)[1], PROVIDER_MANAGE)  # type: ignore[index]

    change_role(actor=alice, membership=_member(maggie), role=Role.READONLY)

    _, member = authenticate_token(plaintext)  # type: ignore[misc]
    assert can(member, PROVIDER_VIEW)
    assert not can(member, PROVIDER_MANAGE)
    assert not can(member, AUDIT_VIEW)


def test_it_stops_tokens_of_people_who_left_the_workspace(alice: Any, bob: Any) -> None:
    _, plaintext = _create(bob)

    Membership.objects.filter(user=bob).delete()

    assert authenticate_token(plaintext) is None


def test_it_stops_tokens_of_deactivated_users(bob: Any) -> None:
    _, plaintext = _create(bob)
    bob.is_active = False
    bob.save()

    assert authenticate_token(plaintext) is None


def test_it_audits_creation_without_the_secret(alice: Any) -> None:
    token, plaintext = _create(alice, capabilities=[PROVIDER_VIEW, PROVIDER_RUN])

    event = AuditEvent.objects.get(action="api_token.created")

    assert event.metadata["prefix"] == token.prefix
    assert event.metadata["capabilities"] == [PROVIDER_RUN, PROVIDER_VIEW]
    assert plaintext not in str(event.metadata)


# -- the token page -------------------------------------------------------------------------------


def _page(slug: str = "acme") -> str:
    return reverse("accounts:tokens", kwargs={"slug": slug})


def test_the_page_shows_the_new_token_once(bob: Any) -> None:
    client = client_for(bob)

    created = client.post(
        _page(), {"name": "Nightly export", "capabilities": [PROVIDER_VIEW, PROVIDER_RUN]}
    )
    again = client.get(_page())

    token = ApiToken.objects.get()
    assert created.status_code == 200
    assert created["Cache-Control"] == "no-store"
    assert f"ta_{token.prefix}_".encode() in created.content
    assert b"shown <strong>only once</strong>" in created.content
    assert token.capabilities == [PROVIDER_RUN, PROVIDER_VIEW]
    assert again.status_code == 200
    assert b'id="new-token-value"' not in again.content
    assert f"ta_{token.prefix}_…".encode() in again.content


def test_the_page_offers_only_the_members_capabilities(vera: Any) -> None:
    response = client_for(vera).get(_page())

    assert b'value="provider.view"' in response.content
    assert b'value="provider.run"' not in response.content


def test_the_page_refuses_a_capability_the_member_lacks(vera: Any) -> None:
    response = client_for(vera).post(_page(), {"name": "Sneaky", "capabilities": [PROVIDER_MANAGE]})

    assert response.status_code == 200
    assert not ApiToken.objects.exists()
    assert b"provider.manage is not one of the available choices" in response.content


def test_members_see_only_their_own_tokens_and_workspace_manage_sees_all(
    alice: Any, bob: Any, vera: Any
) -> None:
    _create(bob)
    verass, _ = create_api_token(
        actor=vera, member=_member(vera), name="Vera's", capabilities=[PROVIDER_VIEW]
    )

    as_bob = client_for(bob).get(_page())
    as_alice = client_for(alice).get(_page())

    assert b"Vera&#x27;s" not in as_bob.content
    assert b"Vera&#x27;s" in as_alice.content
    revoke = reverse("accounts:token_revoke", kwargs={"slug": "acme", "pk": verass.pk})
    assert client_for(bob).post(revoke).status_code == 404
    assert client_for(alice).post(revoke).status_code == 302
    assert ApiToken.objects.get(pk=verass.pk).state == "revoked"


def test_the_page_sets_an_expiry_at_the_end_of_the_chosen_day(bob: Any) -> None:
    day = timezone.now().date() + dt.timedelta(days=30)

    client_for(bob).post(
        _page(), {"name": "Temp", "capabilities": [PROVIDER_VIEW], "expires_on": day.isoformat()}
    )

    expires_at = ApiToken.objects.get().expires_at
    assert expires_at is not None
    assert expires_at.date() == day


# -- leaving the workspace ------------------------------------------------------------------------


def _me(plaintext: str) -> int:
    return Client(headers={"Authorization": f"Bearer {plaintext}"}).get("/api/v1/me").status_code


def test_it_revokes_a_members_tokens_when_they_are_removed(alice: Any, bob: Any) -> None:
    first, _ = _create(bob)
    second, _ = _create(bob, capabilities=[PROVIDER_RUN])
    alices, alices_plaintext = _create(alice)

    remove_member(actor=alice, membership=_member(bob))

    for token in (first, second):
        token.refresh_from_db()
        assert token.state == "revoked"
        assert token.revoked_by == alice
    assert ApiToken.objects.get(pk=alices.pk).state == "active"
    assert _me(alices_plaintext) == 200
    revoked = AuditEvent.objects.filter(action="api_token.revoked").order_by("target_id")
    assert [e.target_id for e in revoked] == sorted([str(first.pk), str(second.pk)])
    assert {e.metadata["reason"] for e in revoked} == {"member_removed"}
    assert {e.metadata["owner"] for e in revoked} == {"bob"}


def test_it_keeps_the_tokens_when_the_removal_is_refused(alice: Any) -> None:
    token, plaintext = _create(alice)

    with pytest.raises(Refused):
        remove_member(actor=alice, membership=_member(alice))  # the last owner stays

    assert ApiToken.objects.get(pk=token.pk).state == "active"
    assert _me(plaintext) == 200
    assert not AuditEvent.objects.filter(action="api_token.revoked").exists()


def test_it_does_not_revive_old_tokens_when_a_removed_member_rejoins(
    alice: Any, bob: Any, acme: Any
) -> None:
    _, plaintext = _create(bob)
    assert _me(plaintext) == 200
    members = reverse("members:list", kwargs={"slug": acme.slug})
    as_alice = client_for(alice)

    as_alice.post(reverse("members:remove", kwargs={"slug": acme.slug, "pk": _member(bob).pk}))
    invited = as_alice.post(members, {"user": "bob", "role": Role.OPERATOR})
    link = re.search(r'id="invitation-link"[^>]*>([^<]+)<', invited.content.decode())
    assert link is not None, "the inviter is shown the accept link"
    accepted = client_for(bob).post(link.group(1), {"action": "accept"})

    assert accepted.status_code == 302
    assert _member(bob).role == Role.OPERATOR
    assert _me(plaintext) == 401
