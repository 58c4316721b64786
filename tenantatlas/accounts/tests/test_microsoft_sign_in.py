"""Sign in with Microsoft, the account side: matching, linking, every refusal, passwords off.

Microsoft's half is replaced here by a stand-in for ``begin_sign_in`` / ``complete_sign_in``
that hands back what a validated id token would say (the validation itself is tested in
graph/tests/test_signin.py, the whole flow against the simulator in test_microsoft_flow.py).
Error redirects and state checks go through the real ``complete_sign_in``: they are decided
before anything is sent to Microsoft.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from tenantatlas.accounts import microsoft_views, signin
from tenantatlas.accounts.models import MicrosoftIdentity
from tenantatlas.audit.models import AuditEvent
from tenantatlas.graph import signin as graph_signin
from tenantatlas.graph.signin import SignInFailed, VerifiedIdentity
from tenantatlas.testing import PASSWORD, client_for
from tenantatlas.workspaces.models import Membership, Role

LOGIN = reverse("accounts:login")
START = reverse("accounts:microsoft_sign_in")
CALLBACK = reverse("accounts:microsoft_callback")
LINK = reverse("accounts:microsoft_link")
ACCOUNT = reverse("accounts:account")
HOME = reverse("overview:home")
TENANT = "3c1e5a7b-9d2f-4b6c-8e1a-2f4d6b8c0e1a"
ALICE_OID = "5f4e3d2c-1b0a-4f9e-8d7c-6b5a4f3e2d1c"
STRANGER_OID = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"


class FakeMicrosoft:
    """Stands in for graph.signin's network half: each flow gets a fresh state; the callback
    answers with ``identity`` (or raises ``failure``)."""

    def __init__(self) -> None:
        self.started = 0
        self.identity: VerifiedIdentity | None = None
        self.failure: SignInFailed | None = None
        self.completed: list[dict[str, Any]] = []

    def begin(self, app: Any, redirect_uri: str, **kwargs: Any) -> dict[str, Any]:
        self.started += 1
        state = f"state-{self.started}"
        self.redirect_uri = redirect_uri
        return {
            "state": state,
            "nonce": "nonce",
            "code_verifier": "v" * 43,
            "redirect_uri": redirect_uri,
            "auth_uri": f"https://login.microsoftonline.com/{TENANT}/oauth2/v2.0/authorize?state={state}",
        }

    def complete(self, app: Any, flow: Any, answer: Any, **kwargs: Any) -> VerifiedIdentity:
        self.completed.append(dict(answer))
        if answer.get("error") or answer.get("state") != flow.get("state"):
            return graph_signin.complete_sign_in(app, flow, answer)  # decided before any I/O
        if self.failure is not None:
            raise self.failure
        assert self.identity is not None
        return self.identity


@pytest.fixture
def microsoft(db: Any, settings: Any, monkeypatch: pytest.MonkeyPatch) -> FakeMicrosoft:
    settings.MICROSOFT_SIGN_IN = True
    settings.MICROSOFT_SIGN_IN_CLIENT_ID = "7d1c9e3a-5b2f-4c8d-9e1a-3f5b7c9d1e2a"
    settings.MICROSOFT_SIGN_IN_CLIENT_SECRET = "sign-in-secret-value-0001"
    settings.MICROSOFT_SIGN_IN_TENANTS = [TENANT]
    settings.MICROSOFT_SIGN_IN_CLOUD = "global"
    fake = FakeMicrosoft()
    monkeypatch.setattr(microsoft_views, "begin_sign_in", fake.begin)
    monkeypatch.setattr(microsoft_views, "complete_sign_in", fake.complete)
    return fake


def as_microsoft(oid: str = ALICE_OID, tenant: str = TENANT) -> VerifiedIdentity:
    return VerifiedIdentity(tenant, oid, name="Alice A.", username="alice@contoso.example")


def link(user: Any, oid: str = ALICE_OID) -> MicrosoftIdentity:
    from django.utils import timezone

    return MicrosoftIdentity.objects.create(
        user=user,
        tenant_id=TENANT,
        object_id=oid,
        username="alice@contoso.example",
        linked_at=timezone.now(),
    )


def come_back(client: Client, *, state: str | None = None, **answer: str) -> Any:
    """Leave for Microsoft from the sign-in page, come back with its answer."""
    start = client.get(START)
    assert start.status_code == 302
    flow_state = start["Location"].rsplit("state=", 1)[1]
    params = {"state": flow_state if state is None else state, **answer}
    if "error" not in answer:
        params.setdefault("code", "one-time-code")
    return client.get(CALLBACK, params)


def signed_in(client: Client) -> str | None:
    user_id = client.session.get("_auth_user_id")
    if user_id is None:
        return None
    return str(get_user_model().objects.get(pk=user_id).get_username())


# -- the way in ----------------------------------------------------------------------------------


def test_it_offers_no_microsoft_sign_in_unless_configured(db: Any) -> None:
    assert Client().get(START).status_code == 404
    assert Client().get(CALLBACK, {"state": "x", "code": "y"}).status_code == 404
    assert "Sign in with Microsoft" not in Client().get(LOGIN).content.decode()


def test_it_offers_microsoft_beside_the_password(microsoft: FakeMicrosoft) -> None:
    html = Client().get(LOGIN).content.decode()

    assert 'id="sign-in-microsoft"' in html
    assert 'name="password"' in html


def test_it_sends_the_browser_to_microsoft_with_the_callback_address(
    microsoft: FakeMicrosoft,
) -> None:
    client = Client()

    response = client.get(START)

    assert response.status_code == 302
    assert response["Location"].startswith("https://login.microsoftonline.com/")
    assert microsoft.redirect_uri == "http://testserver/accounts/microsoft/callback/"
    assert list(client.session[signin.SESSION_KEY]) == ["state-1"]


def test_it_signs_in_a_linked_user_into_a_new_session_and_lands_in_their_workspace(
    microsoft: FakeMicrosoft, alice: Any, acme: Any
) -> None:
    link(alice)
    microsoft.identity = as_microsoft()
    client = Client()
    client.get(LOGIN)
    anonymous_key = client.session.session_key

    response = come_back(client)

    assert response.status_code == 302
    assert response["Location"] == HOME
    assert client.get(HOME)["Location"] == reverse("overview:workspace", kwargs={"slug": "acme"})
    assert signed_in(client) == "alice"
    assert client.session.session_key != anonymous_key
    assert signin.SESSION_KEY not in client.session or not client.session[signin.SESSION_KEY]
    identity = MicrosoftIdentity.objects.get(user=alice)
    assert identity.last_sign_in_at is not None
    assert identity.display_name == "Alice A."


def test_it_lands_in_the_workspace_used_last(
    microsoft: FakeMicrosoft, alice: Any, acme: Any, globex: Any
) -> None:
    Membership.objects.create(workspace=globex, user=alice, role=Role.READONLY)
    client_for(alice).post(reverse("workspaces:switch"), {"slug": "globex"})
    link(alice)
    microsoft.identity = as_microsoft()
    client = Client()

    come_back(client)

    home = client.get(HOME).content.decode()  # a member of several lands on their list
    assert re.findall(r'id="workspace-([\w-]+)"', home)[0] == "globex"


def test_it_returns_to_the_page_that_asked_for_sign_in(
    microsoft: FakeMicrosoft, alice: Any, acme: Any
) -> None:
    link(alice)
    microsoft.identity = as_microsoft()
    client = Client()
    audit = reverse("audit:log", kwargs={"slug": "acme"})
    start = client.get(START, {"next": audit})
    state = start["Location"].rsplit("state=", 1)[1]

    response = client.get(CALLBACK, {"state": state, "code": "c"})

    assert response["Location"] == audit


def test_it_ignores_a_next_address_on_another_site(
    microsoft: FakeMicrosoft, alice: Any, acme: Any
) -> None:
    link(alice)
    microsoft.identity = as_microsoft()
    client = Client()
    start = client.get(START, {"next": "https://evil.example/phish"})
    state = start["Location"].rsplit("state=", 1)[1]

    assert client.get(CALLBACK, {"state": state, "code": "c"})["Location"] == HOME


def test_it_matches_by_tenant_and_object_id_never_by_email(
    microsoft: FakeMicrosoft, alice: Any, acme: Any
) -> None:
    """Same e-mail and user name as alice's linked account, another object id: not alice."""
    link(alice)
    microsoft.identity = VerifiedIdentity(
        TENANT,
        STRANGER_OID,
        name="alice",
        username="alice@example.test",
        email="alice@example.test",
    )
    client = Client()

    response = come_back(client)

    assert response.status_code == 403
    assert signed_in(client) is None


# -- refusals --------------------------------------------------------------------------------------


def test_it_tells_an_unknown_microsoft_user_that_no_account_is_linked(
    microsoft: FakeMicrosoft, alice: Any
) -> None:
    microsoft.identity = as_microsoft(oid=STRANGER_OID)
    client = Client()

    response = come_back(client)

    assert response.status_code == 403
    html = response.content.decode()
    assert "No TenantAtlas account is linked to this Microsoft account" in html
    assert "not signed in" in html
    assert "choose <em>Link a Microsoft account</em>" in html
    assert signed_in(client) is None
    assert not MicrosoftIdentity.objects.exists(), "nothing is linked or created on the way"
    assert not get_user_model().objects.exclude(username="alice").exists()


def problem(response: Any) -> str:
    html = response.content.decode()
    assert 'id="sign-in-problem"' in html, html[:400]
    return html.split('data-code="', 1)[1].split('"', 1)[0]


def test_it_refuses_an_answer_of_another_sign_in(microsoft: FakeMicrosoft, alice: Any) -> None:
    link(alice)
    microsoft.identity = as_microsoft()
    client = Client()

    response = come_back(client, state="forged-state")

    assert (response.status_code, problem(response)) == (400, "state_mismatch")
    assert "does not match the sign-in this browser started" in response.content.decode()
    assert signed_in(client) is None


def test_it_refuses_a_replayed_answer(microsoft: FakeMicrosoft, alice: Any, acme: Any) -> None:
    link(alice)
    microsoft.identity = as_microsoft()
    client = Client()
    start = client.get(START)
    answer = {"state": start["Location"].rsplit("state=", 1)[1], "code": "c"}
    assert client.get(CALLBACK, answer).status_code == 302
    client.post(reverse("accounts:logout"))

    replayed = client.get(CALLBACK, answer)

    assert (replayed.status_code, problem(replayed)) == (400, "no_flow")
    assert signed_in(client) is None


def test_it_refuses_a_callback_in_a_browser_that_started_nothing(microsoft: FakeMicrosoft) -> None:
    response = Client().get(CALLBACK, {"state": "s", "code": "c"})

    assert (response.status_code, problem(response)) == (400, "no_flow")
    assert "No sign-in in progress" in response.content.decode()


def test_it_refuses_a_flow_older_than_ten_minutes(
    microsoft: FakeMicrosoft, alice: Any, settings: Any
) -> None:
    link(alice)
    microsoft.identity = as_microsoft()
    settings.MICROSOFT_SIGN_IN_FLOW_SECONDS = -1

    response = come_back(Client())

    assert (response.status_code, problem(response)) == (400, "flow_expired")
    assert "took too long" in response.content.decode()


def test_it_explains_a_cancelled_sign_in(microsoft: FakeMicrosoft) -> None:
    response = come_back(
        Client(),
        error="access_denied",
        error_description="AADSTS65004: User declined to consent to access the app.",
    )

    assert (response.status_code, problem(response)) == (403, "access_denied")
    assert "Sign-in cancelled at Microsoft" in response.content.decode()
    assert "AADSTS65004" in response.content.decode()


def test_it_explains_an_error_redirect_with_its_code(microsoft: FakeMicrosoft) -> None:
    response = come_back(
        Client(),
        error="invalid_request",
        error_description="AADSTS50105: The signed in user is not assigned to a role.",
    )

    assert (response.status_code, problem(response)) == (400, "microsoft_error")
    assert "not assigned to the TenantAtlas app" in response.content.decode()


@pytest.mark.parametrize(
    ("failure", "status", "words"),
    [
        (SignInFailed("tenant_not_allowed", "no", tenant_id=TENANT), 403, "may not sign in here"),
        (SignInFailed("token_invalid", "sig", reason="signature"), 400, "could not be verified"),
        (SignInFailed("code_rejected", "used", aadsts=54005), 400, "already used"),
        (SignInFailed("unreachable", "down"), 502, "could not be reached"),
        (SignInFailed("misconfigured", "bad", aadsts=7000215), 503, "client secret was refused"),
    ],
)
def test_it_explains_each_failure_of_the_microsoft_side(
    microsoft: FakeMicrosoft, failure: SignInFailed, status: int, words: str
) -> None:
    microsoft.failure = failure
    client = Client()

    response = come_back(client)

    assert (response.status_code, problem(response)) == (status, failure.code)
    assert words in response.content.decode()
    assert signed_in(client) is None


def test_it_refuses_a_disabled_local_account(
    microsoft: FakeMicrosoft, alice: Any, acme: Any
) -> None:
    link(alice)
    alice.is_active = False
    alice.save()
    microsoft.identity = as_microsoft()
    client = Client()

    response = come_back(client)

    assert (response.status_code, problem(response)) == (403, "account_disabled")
    assert signed_in(client) is None


def test_it_refuses_an_identity_whose_account_was_removed(
    microsoft: FakeMicrosoft, alice: Any, acme: Any
) -> None:
    link(alice)
    alice.delete()
    microsoft.identity = as_microsoft()
    client = Client()

    response = come_back(client)

    assert (response.status_code, problem(response)) == (403, "account_removed")
    assert signed_in(client) is None


def test_it_never_answers_500_to_a_garbled_callback(microsoft: FakeMicrosoft) -> None:
    client = Client()
    client.get(START)

    for params in ({}, {"state": ""}, {"code": "c"}, {"error": "x"}, {"state": "\x00" * 3}):
        assert client.get(CALLBACK, params).status_code in (400, 403)


# -- lockout ---------------------------------------------------------------------------------------


def test_it_refuses_microsoft_sign_in_of_an_account_locked_by_failed_passwords(
    microsoft: FakeMicrosoft, alice: Any, acme: Any, settings: Any
) -> None:
    link(alice)
    microsoft.identity = as_microsoft()
    for _ in range(settings.SIGN_IN_FAILURE_LIMITS["username"]):
        Client().post(LOGIN, {"username": "alice", "password": "wrong"})
    client = Client()

    response = come_back(client)

    assert response.status_code == 429
    assert "Too many failed sign-ins" in response.content.decode()
    assert signed_in(client) is None


def test_it_counts_refused_callbacks_towards_the_lockout_of_the_account(
    microsoft: FakeMicrosoft, alice: Any, acme: Any, settings: Any
) -> None:
    link(alice)
    alice.is_active = False
    alice.save()
    microsoft.identity = as_microsoft()
    limit = settings.SIGN_IN_FAILURE_LIMITS["username"]
    answers = [come_back(Client()).status_code for _ in range(limit)]
    alice.is_active = True
    alice.save()

    by_microsoft = come_back(Client())
    by_password = Client().post(LOGIN, {"username": "alice", "password": PASSWORD})

    assert answers == [403] * (limit - 1) + [429]
    assert by_microsoft.status_code == 429
    assert by_password.status_code == 429, "the account is locked for its password too"
    assert AuditEvent.objects.filter(action="account.sign_in_locked").count() == 1


def test_it_keeps_explaining_unidentified_failures_of_different_people(
    microsoft: FakeMicrosoft, settings: Any
) -> None:
    """Answers that name nobody count for the address only, not for one shared name."""
    limit = settings.SIGN_IN_FAILURE_LIMITS["username"]

    answers = [Client().get(CALLBACK, {"state": "s"}).status_code for _ in range(limit + 2)]

    assert answers == [400] * (limit + 2)


def test_it_refuses_every_callback_from_a_locked_address(
    microsoft: FakeMicrosoft, alice: Any, acme: Any, settings: Any
) -> None:
    link(alice)
    settings.SIGN_IN_FAILURE_LIMITS = {**settings.SIGN_IN_FAILURE_LIMITS, "ip_address": 3}
    microsoft.identity = as_microsoft(oid=STRANGER_OID)
    for _ in range(3):
        come_back(Client())
    microsoft.identity = as_microsoft()
    client = Client()

    response = come_back(client)

    assert response.status_code == 429
    assert signed_in(client) is None


# -- linking ---------------------------------------------------------------------------------------


def link_through_microsoft(client: Client) -> Any:
    start = client.post(LINK)
    assert start.status_code == 302, start.content[:300]
    state = start["Location"].rsplit("state=", 1)[1]
    return client.get(CALLBACK, {"state": state, "code": "c"})


def test_it_links_the_microsoft_account_a_signed_in_user_signs_in_with(
    microsoft: FakeMicrosoft, alice: Any, acme: Any
) -> None:
    microsoft.identity = as_microsoft()
    client = client_for(alice)

    response = link_through_microsoft(client)

    assert response["Location"] == ACCOUNT
    identity = MicrosoftIdentity.objects.get()
    assert (identity.user, identity.tenant_id, identity.object_id) == (alice, TENANT, ALICE_OID)
    event = AuditEvent.objects.get(action="account.microsoft_linked")
    assert (event.workspace, event.actor) == (acme, alice)
    assert event.metadata["object_id"] == ALICE_OID
    page = client.get(ACCOUNT).content.decode()
    assert "alice@contoso.example" in page
    assert "linked: you can sign in with it now" in page
    # and from now on it signs alice in
    fresh = Client()
    come_back(fresh)
    assert signed_in(fresh) == "alice"


def test_it_refuses_to_link_a_microsoft_account_linked_to_someone_else(
    microsoft: FakeMicrosoft, alice: Any, bob: Any, acme: Any
) -> None:
    link(bob)
    microsoft.identity = as_microsoft()

    response = link_through_microsoft(client_for(alice))

    assert (response.status_code, problem(response)) == (409, "already_linked")
    assert MicrosoftIdentity.objects.get().user == bob
    assert not AuditEvent.objects.filter(action="account.microsoft_linked").exists()


def test_it_links_again_an_identity_whose_account_was_removed(
    microsoft: FakeMicrosoft, alice: Any, bob: Any, acme: Any
) -> None:
    link(bob)
    bob.delete()
    microsoft.identity = as_microsoft()

    link_through_microsoft(client_for(alice))

    assert MicrosoftIdentity.objects.get().user == alice


def test_it_does_not_link_for_someone_else_who_signed_in_meanwhile(
    microsoft: FakeMicrosoft, alice: Any, bob: Any, acme: Any
) -> None:
    microsoft.identity = as_microsoft()
    client = client_for(alice)
    start = client.post(LINK)
    client.force_login(bob)
    state = start["Location"].rsplit("state=", 1)[1]

    response = client.get(CALLBACK, {"state": state, "code": "c"})

    assert response.status_code in (400, 403)
    assert not MicrosoftIdentity.objects.exists()


def test_it_needs_a_signed_in_user_and_a_post_to_start_linking(microsoft: FakeMicrosoft) -> None:
    assert Client().post(LINK)["Location"].startswith(LOGIN)
    assert microsoft.started == 0


def test_it_unlinks_and_audits(microsoft: FakeMicrosoft, alice: Any, acme: Any) -> None:
    identity = link(alice)

    response = client_for(alice).post(
        reverse("accounts:microsoft_unlink", kwargs={"pk": identity.pk})
    )

    assert response["Location"] == ACCOUNT
    assert not MicrosoftIdentity.objects.exists()
    assert AuditEvent.objects.filter(action="account.microsoft_unlinked", actor=alice).exists()


def test_it_hides_other_peoples_identities_from_unlinking(
    microsoft: FakeMicrosoft, alice: Any, bob: Any
) -> None:
    identity = link(bob)

    response = client_for(alice).post(
        reverse("accounts:microsoft_unlink", kwargs={"pk": identity.pk})
    )

    assert response.status_code == 404
    assert MicrosoftIdentity.objects.get().user == bob


# -- passwords turned off --------------------------------------------------------------------------


@pytest.fixture
def no_passwords(microsoft: FakeMicrosoft, settings: Any) -> FakeMicrosoft:
    settings.PASSWORD_SIGN_IN = False
    return microsoft


def test_it_shows_no_password_form_when_passwords_are_off(no_passwords: FakeMicrosoft) -> None:
    html = Client().get(LOGIN).content.decode()

    assert 'name="password"' not in html
    assert 'id="sign-in-microsoft"' in html


def test_it_refuses_a_password_when_passwords_are_off(
    no_passwords: FakeMicrosoft, alice: Any
) -> None:
    client = Client()

    response = client.post(LOGIN, {"username": "alice", "password": PASSWORD})

    assert response.status_code == 403
    assert "Password sign-in is turned off" in response.content.decode()
    assert signed_in(client) is None


def test_it_keeps_the_last_microsoft_account_linked_when_passwords_are_off(
    no_passwords: FakeMicrosoft, alice: Any, acme: Any
) -> None:
    identity = link(alice)
    client = client_for(alice)

    client.post(reverse("accounts:microsoft_unlink", kwargs={"pk": identity.pk}))

    assert MicrosoftIdentity.objects.filter(pk=identity.pk).exists()
    assert "this is your only way to sign in" in client.get(ACCOUNT).content.decode()


def test_it_lets_an_operator_in_through_a_single_use_break_glass_link(
    no_passwords: FakeMicrosoft, alice: Any, acme: Any, capsys: Any
) -> None:
    call_command("break_glass", "alice", "--site", "https://atlas.example.com")
    url = capsys.readouterr().out.strip()
    assert url.startswith("https://atlas.example.com/accounts/break-glass/")
    path = url.removeprefix("https://atlas.example.com")
    client = Client()

    asked = client.get(path)
    assert asked.status_code == 200
    assert signed_in(client) is None, "a GET (a link preview) signs nobody in"
    response = client.post(path)

    assert response["Location"] == HOME
    assert signed_in(client) == "alice"
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"account.break_glass_issued", "account.break_glass_used"} <= actions
    assert Client().post(path).status_code == 400, "the link works once"


def test_it_refuses_a_forged_break_glass_link(no_passwords: FakeMicrosoft, alice: Any) -> None:
    client = Client()
    path = reverse("accounts:break_glass", kwargs={"uidb64": "MQ", "token": "abc-def"})

    response = client.post(path)

    assert response.status_code == 400
    assert "invalid, already used or expired" in response.content.decode()
    assert signed_in(client) is None


# -- settings --------------------------------------------------------------------------------------


def _settings_error(**env: str) -> str:
    environment = {**os.environ, "TENANTATLAS_ENV": "test", **env}
    result = subprocess.run(
        [sys.executable, "-c", "import tenantatlas.settings"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return result.stderr


def test_it_refuses_to_start_with_an_incomplete_microsoft_configuration() -> None:
    error = _settings_error(
        TENANTATLAS_MICROSOFT_SIGN_IN="true",
        TENANTATLAS_MICROSOFT_SIGN_IN_CLIENT_ID="7d1c9e3a-5b2f-4c8d-9e1a-3f5b7c9d1e2a",
        TENANTATLAS_MICROSOFT_SIGN_IN_TENANTS=TENANT,
    )

    assert "TENANTATLAS_MICROSOFT_SIGN_IN_CLIENT_SECRET" in error


def test_it_refuses_to_start_with_no_way_to_sign_in() -> None:
    error = _settings_error(TENANTATLAS_PASSWORD_SIGN_IN="false")

    assert "TENANTATLAS_PASSWORD_SIGN_IN=false needs TENANTATLAS_MICROSOFT_SIGN_IN=true" in error


def test_only_the_sign_in_views_and_bulk_add_may_reach_microsoft_while_a_request_waits() -> None:
    """The DB-only guard lets exactly these through (tenantatlas/testing.py, lib/pages.py)."""
    from django.urls import URLPattern, URLResolver, get_resolver

    def marked(patterns: list[Any], namespace: str = "") -> set[str]:
        found: set[str] = set()
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                found |= marked(pattern.url_patterns, pattern.namespace or namespace)
            elif isinstance(pattern, URLPattern) and getattr(
                pattern.callback, "reaches_microsoft", False
            ):
                found.add(f"{namespace}:{pattern.name}")
        return found

    assert marked(get_resolver().url_patterns) == {
        "accounts:microsoft_sign_in",
        "accounts:microsoft_callback",
        "accounts:microsoft_link",
        "onboarding:bulk_add",  # a list's domains
    }


def test_the_system_check_names_an_unknown_cloud_and_an_unreadable_key(
    microsoft: FakeMicrosoft, settings: Any
) -> None:
    from tenantatlas.accounts.apps import check_microsoft_sign_in

    assert check_microsoft_sign_in() == []
    settings.MICROSOFT_SIGN_IN_CLOUD = "moon"
    assert [e.id for e in check_microsoft_sign_in()] == ["accounts.E001"]
    settings.MICROSOFT_SIGN_IN_CLOUD = "global"
    settings.MICROSOFT_SIGN_IN_CLIENT_SECRET = ""
    settings.MICROSOFT_SIGN_IN_CERTIFICATE = "-----BEGIN CERTIFICATE-----\nnope\n"
    settings.MICROSOFT_SIGN_IN_PRIVATE_KEY = "not a key"
    errors = check_microsoft_sign_in()
    assert [e.id for e in errors] == ["accounts.E002"]
    assert "private key" in errors[0].msg
