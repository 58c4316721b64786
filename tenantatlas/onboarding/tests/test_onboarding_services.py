"""Starting, renewing and cancelling onboardings; the admin-consent URL they hand out."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from tenantatlas.audit.models import AuditEvent
from tenantatlas.lib.errors import InvalidInput, Refused
from tenantatlas.onboarding.models import Onboarding, OnboardingStatus
from tenantatlas.onboarding.services import (
    cancel_onboarding,
    clean_tenant_hint,
    consent_url,
    renew_onboarding_link,
    start_onboarding,
)
from tenantatlas.onboarding.tests.helpers import start, state_of
from tenantatlas.providers.tests.partner_apps import PARTNER_CLIENT_ID, make_partner_app


def _parts(url: str) -> tuple[str, str, dict[str, list[str]]]:
    split = urlsplit(url)
    return f"{split.scheme}://{split.netloc}", split.path, parse_qs(split.query)


def test_it_builds_microsofts_admin_consent_url(alice: Any, acme: Any, settings: Any) -> None:
    settings.SITE_URL = "https://atlas.example.test"
    onboarding = start(acme, alice)

    host, path, query = _parts(consent_url(onboarding))

    assert host == "https://login.microsoftonline.com"
    assert path == "/organizations/v2.0/adminconsent"
    assert query["client_id"] == [PARTNER_CLIENT_ID]
    assert query["scope"] == ["https://graph.microsoft.com/.default"]
    assert query["redirect_uri"] == ["https://atlas.example.test/onboarding/consent/callback/"]
    assert len(query["state"][0]) == 64


def test_it_sends_the_link_to_the_named_tenant_of_the_partner_apps_cloud(
    alice: Any, acme: Any
) -> None:
    make_partner_app(acme, alice, cloud="usgov_high")
    onboarding = start(acme, alice, hint="Contoso.COM")

    host, path, query = _parts(consent_url(onboarding))

    assert host == "https://login.microsoftonline.us"
    assert path == "/contoso.com/v2.0/adminconsent"
    assert query["scope"] == ["https://graph.microsoft.us/.default"]


def test_it_keeps_only_a_hash_of_the_state(alice: Any, acme: Any) -> None:
    onboarding = start(acme, alice)
    state = state_of(onboarding)

    stored = Onboarding.objects.filter(pk=onboarding.pk).values().get()

    assert state not in str(stored)
    assert stored["state_hash"] != state
    event = AuditEvent.objects.get(action="onboarding.started")
    assert state not in str(event.metadata)
    assert event.metadata["customer_name"] == "Northwind"


def test_it_needs_the_partner_app_first(alice: Any, acme: Any) -> None:
    with pytest.raises(Refused):
        start_onboarding(actor=alice, workspace=acme, customer_name="Northwind")


@pytest.mark.parametrize(
    ("value", "cleaned"),
    [
        ("", ""),
        (" 4E4E4E4E-5F5F-4A6A-8B7B-9C9C9C9C9C9C ", "4e4e4e4e-5f5f-4a6a-8b7b-9c9c9c9c9c9c"),
        ("contoso.onmicrosoft.com", "contoso.onmicrosoft.com"),
    ],
)
def test_it_takes_a_tenant_id_or_a_domain(value: str, cleaned: str) -> None:
    assert clean_tenant_hint(value) == cleaned


@pytest.mark.parametrize("value", ["not a tenant", "organizations/../common", "a.b/c", "x"])
def test_it_refuses_anything_else_in_the_link_path(value: str) -> None:
    with pytest.raises(InvalidInput):
        clean_tenant_hint(value)


def test_renewing_gives_a_new_link_and_kills_the_old(alice: Any, acme: Any) -> None:
    onboarding = start(acme, alice)
    old_state, old_hash = state_of(onboarding), onboarding.state_hash

    renewed = renew_onboarding_link(actor=alice, onboarding=onboarding)

    assert state_of(renewed) != old_state
    assert renewed.state_hash != old_hash
    assert not Onboarding.objects.filter(state_hash=old_hash).exists()
    assert renewed.status == OnboardingStatus.PENDING
    assert AuditEvent.objects.filter(action="onboarding.link_renewed").count() == 1


def test_renewing_reopens_a_declined_onboarding(alice: Any, acme: Any) -> None:
    onboarding = start(acme, alice)
    Onboarding.objects.filter(pk=onboarding.pk).update(
        status=OnboardingStatus.DECLINED, reason_code="consent.declined"
    )

    renewed = renew_onboarding_link(actor=alice, onboarding=onboarding)

    assert renewed.status == OnboardingStatus.PENDING
    assert renewed.reason_code == ""


def test_cancelling_closes_it_for_good(alice: Any, acme: Any) -> None:
    onboarding = start(acme, alice)

    cancelled = cancel_onboarding(actor=alice, onboarding=onboarding)

    assert cancelled.status == OnboardingStatus.CANCELLED
    assert AuditEvent.objects.get(action="onboarding.cancelled").metadata["previous_status"] == (
        "pending"
    )
    with pytest.raises(Refused):
        renew_onboarding_link(actor=alice, onboarding=cancelled)
    with pytest.raises(Refused):
        cancel_onboarding(actor=alice, onboarding=cancelled)
