"""Sign-in throttling: repeated failures lock an account and a client address for a cool-off."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from typing import Any
from unittest import mock

import pytest
from django.contrib.auth.hashers import MD5PasswordHasher
from django.core.management import call_command
from django.test import Client, RequestFactory
from django.urls import reverse

from tenantatlas.audit.models import AuditEvent
from tenantatlas.lib.middleware import client_ip
from tenantatlas.testing import PASSWORD
from tenantatlas.workspaces.models import Membership, Role

LOGIN = reverse("accounts:login")
HOME = reverse("overview:home")
ATTACKER = "203.0.113.7"
NEIGHBOUR = "198.51.100.20"
WRONG = "Tr0ub4dor&3-not-it"
LOCKED_TEXT = "Too many failed sign-ins."


def sign_in(username: str, password: str, address: str = ATTACKER, **headers: str) -> Any:
    client = Client(REMOTE_ADDR=address, headers=headers)
    response = client.post(LOGIN, {"username": username, "password": password})
    response.signed_in = "_auth_user_id" in client.session
    return response


def fail(username: str, times: int, address: str = ATTACKER, **headers: str) -> Any:
    response = None
    for _ in range(times):
        response = sign_in(username, WRONG, address, **headers)
    return response


@pytest.fixture
def hashes() -> Iterator[mock.Mock]:
    """Counts every password hash computed: checking a password (verify → encode) or hashing the
    dummy password ModelBackend hashes for an unknown username (make_password → encode)."""
    counter = mock.Mock()
    real_encode = MD5PasswordHasher.encode

    def encode(self: Any, *args: Any, **kwargs: Any) -> Any:
        counter()
        return real_encode(self, *args, **kwargs)

    with mock.patch.object(MD5PasswordHasher, "encode", encode):
        yield counter


def age_failures(minutes: int) -> None:
    """Move the recorded failures into the past, as if that many minutes had gone by."""
    from axes.models import AccessAttempt

    for attempt in AccessAttempt.objects.all():
        attempt.attempt_time -= dt.timedelta(minutes=minutes)
        attempt.save(update_fields=["attempt_time"])


def test_it_locks_an_account_after_five_wrong_passwords(alice: Any) -> None:
    assert fail("alice", 4).status_code == 200  # four mistakes: still the plain form

    fifth = sign_in("alice", WRONG)

    assert fifth.status_code == 429
    assert LOCKED_TEXT in fifth.content.decode()


def test_it_refuses_the_right_password_while_the_account_is_locked(alice: Any) -> None:
    fail("alice", 5)

    response = sign_in("alice", PASSWORD, address=NEIGHBOUR)  # from another address too

    assert response.status_code == 429
    assert not response.signed_in
    assert LOCKED_TEXT in response.content.decode()


def test_it_locks_an_address_after_twenty_failures_across_usernames(alice: Any) -> None:
    for number in range(20):
        sign_in(f"guess{number}", WRONG)

    from_attacker = sign_in("alice", PASSWORD)
    from_neighbour = sign_in("alice", PASSWORD, address=NEIGHBOUR)

    assert from_attacker.status_code == 429
    assert not from_attacker.signed_in
    assert from_neighbour.status_code == 302
    assert from_neighbour.signed_in


def test_it_does_not_lock_an_address_before_its_own_limit(alice: Any) -> None:
    for number in range(19):
        sign_in(f"guess{number}", WRONG)

    response = sign_in("alice", PASSWORD)

    assert response.status_code == 302
    assert response.signed_in


def test_it_computes_no_password_hash_while_locked(alice: Any, hashes: mock.Mock) -> None:
    fail("alice", 5)
    for number in range(20):
        sign_in(f"guess{number}", WRONG, address=NEIGHBOUR)
    assert hashes.call_count == 25  # the counter sees every check, known account or not
    hashes.reset_mock()

    sign_in("alice", PASSWORD, address="192.0.2.1")  # locked account
    sign_in("alice", WRONG)  # locked account
    sign_in("nobody", WRONG, address=NEIGHBOUR)  # locked address, unknown account

    assert hashes.call_count == 0


def test_it_shows_the_lockout_on_the_sign_in_page(alice: Any) -> None:
    response = fail("alice", 5)

    html = response.content.decode()
    assert response.status_code == 429
    assert (
        "Too many failed sign-ins. Try again in 15 minutes or ask an owner of this "
        "installation to unlock your account." in html
    )
    assert 'name="username"' in html
    assert 'name="password"' in html
    assert "Please enter a correct username" not in html
    assert response["Retry-After"] == "900"


def test_it_states_a_configured_cool_off(alice: Any, settings: Any) -> None:
    settings.AXES_COOLOFF_TIME = dt.timedelta(minutes=30)

    response = fail("alice", 5)

    assert "Try again in 30 minutes" in response.content.decode()
    assert response["Retry-After"] == "1800"


def test_it_honours_configured_limits(alice: Any, settings: Any) -> None:
    settings.SIGN_IN_FAILURE_LIMITS = {"username": 2, "ip_address": 3}

    assert sign_in("alice", WRONG).status_code == 200
    assert sign_in("alice", WRONG).status_code == 429
    assert sign_in("bob", WRONG, address=NEIGHBOUR).status_code == 200
    assert sign_in("carol", WRONG, address=NEIGHBOUR).status_code == 200
    assert sign_in("dave", WRONG, address=NEIGHBOUR).status_code == 429


def test_it_accepts_the_right_password_after_the_cool_off(alice: Any) -> None:
    fail("alice", 5)
    age_failures(minutes=14)
    assert sign_in("alice", PASSWORD).status_code == 429

    age_failures(minutes=2)
    response = sign_in("alice", PASSWORD)

    assert response.status_code == 302
    assert response.signed_in


def test_it_does_not_extend_the_lockout_with_attempts_while_locked(alice: Any) -> None:
    fail("alice", 5)
    age_failures(minutes=14)
    fail("alice", 3)  # refused without being counted

    age_failures(minutes=2)

    assert sign_in("alice", PASSWORD).signed_in


def test_it_unlocks_an_account_with_the_reset_command(alice: Any) -> None:
    fail("alice", 5)

    call_command("axes_reset_username", "alice", verbosity=0)

    assert sign_in("alice", PASSWORD).signed_in


def test_it_unlocks_an_address_with_the_reset_command(alice: Any) -> None:
    for number in range(20):
        sign_in(f"guess{number}", WRONG)

    call_command("axes_reset_ip", ATTACKER, verbosity=0)

    assert sign_in("alice", PASSWORD).signed_in


def test_it_ignores_a_forged_forwarded_for_without_a_proxy(alice: Any) -> None:
    for number in range(5):
        sign_in("alice", WRONG, address=ATTACKER, x_forwarded_for=f"10.0.0.{number}")
    for number in range(20):
        sign_in(f"guess{number}", WRONG, x_forwarded_for=f"10.0.1.{number}")

    response = sign_in("bob", PASSWORD, x_forwarded_for="10.0.2.1")

    assert response.status_code == 429  # counted against REMOTE_ADDR, the forged header ignored


def test_it_counts_the_forwarded_address_behind_a_trusted_proxy(alice: Any, settings: Any) -> None:
    settings.PROXY_HOPS = 1
    for number in range(20):
        sign_in(f"guess{number}", WRONG, address="10.9.9.9", x_forwarded_for=ATTACKER)

    locked = sign_in("alice", PASSWORD, address="10.9.9.9", x_forwarded_for=ATTACKER)
    neighbour = sign_in("alice", PASSWORD, address="10.9.9.9", x_forwarded_for=NEIGHBOUR)

    assert locked.status_code == 429
    assert neighbour.signed_in


def test_it_audits_an_account_lockout_once_in_each_of_its_workspaces(
    alice: Any, acme: Any, globex: Any
) -> None:
    Membership.objects.create(workspace=globex, user=alice, role=Role.READONLY)

    fail("alice", 5)
    fail("alice", 3)  # further refusals while locked are not new lockouts

    events = AuditEvent.objects.filter(action="account.sign_in_locked")
    assert sorted(event.workspace.slug for event in events) == ["acme", "globex"]
    event = events.get(workspace=acme)
    assert (event.target_type, event.target_id, event.target_label) == (
        "user",
        str(alice.pk),
        "alice",
    )
    assert event.actor is None
    assert event.ip == ATTACKER
    assert event.via == "web"
    assert event.metadata == {"locked": ["account"], "cool_off_minutes": 15}
    assert WRONG not in str(event.metadata)


def test_it_audits_an_address_lockout_in_the_named_accounts_workspace(
    alice: Any, acme: Any
) -> None:
    for number in range(19):
        sign_in(f"guess{number}", WRONG)

    sign_in("alice", WRONG)

    event = AuditEvent.objects.get(action="account.sign_in_locked")
    assert event.workspace == acme
    assert event.metadata == {"locked": ["address"], "cool_off_minutes": 15}


def test_it_logs_failed_sign_ins_and_lockouts_without_passwords(
    alice: Any, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="tenantatlas.accounts"):
        for number in range(19):
            sign_in(f"guess{number}", WRONG)
        sign_in("nobody-here", WRONG)
        sign_in("nobody-here", PASSWORD)

    text = "\n".join(record.getMessage() for record in caplog.records)
    assert "Sign-in failed for 'guess0' from 203.0.113.7" in text
    assert "Sign-in locked for 'nobody-here' from 203.0.113.7: address" in text
    assert "Sign-in refused while locked for 'nobody-here' from 203.0.113.7" in text
    assert WRONG not in caplog.text
    assert PASSWORD not in caplog.text
    from axes.models import AccessAttempt

    stored = list(AccessAttempt.objects.values_list("post_data", "get_data"))
    assert stored
    assert WRONG not in str(stored)


def test_it_keeps_successful_sign_ins_and_forced_logins_working(alice: Any, acme: Any) -> None:
    fail("alice", 4)

    assert sign_in("alice", PASSWORD).signed_in
    forced = Client()
    forced.force_login(alice)
    assert forced.get(HOME).status_code == 302


@pytest.mark.parametrize("forwarded", ["not-an-ip", "203.0.113.7:5555", ""])
def test_it_counts_an_unusable_forwarded_address_without_error(
    alice: Any, settings: Any, forwarded: str
) -> None:
    settings.PROXY_HOPS = 1
    assert client_ip(RequestFactory().get("/", HTTP_X_FORWARDED_FOR=forwarded)) in {
        None,
        "127.0.0.1",  # an empty header falls back to the socket address
    }

    statuses = [
        sign_in("alice", WRONG, address="10.9.9.9", x_forwarded_for=forwarded).status_code
        for _ in range(6)
    ]

    assert statuses == [200, 200, 200, 200, 429, 429]
    assert AuditEvent.objects.filter(action="account.sign_in_locked").count() == 1
