"""The badge catalog: every value of every domain renders; unknown values render "Unknown"."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.db import models
from django.template import Context, Template
from django.utils import timezone

from tenantatlas.badges.catalog import CATALOG, UNKNOWN, Badge, badge_for, credential_expiry_state
from tenantatlas.inventory.models import ComplianceState
from tenantatlas.onboarding.models import OnboardingStatus
from tenantatlas.operations.models import RunStatus
from tenantatlas.providers.models import ConnectionStatus, Health, ProviderCredential

# Badge domain → the model enum whose values it renders. A new enum value without a badge fails.
ENUM_DOMAINS: dict[str, type[models.TextChoices]] = {
    "connection_status": ConnectionStatus,
    "health": Health,
    "run_status": RunStatus,
    "compliance_state": ComplianceState,
    "onboarding_status": OnboardingStatus,
}
CREDENTIAL_EXPIRY_STATES = {"valid", "expiring", "expired", "none", "missing"}
TONES = {"success", "warning", "danger", "info", "neutral"}
CATALOG_VALUES = [
    pytest.param(domain, value, id=f"{domain}:{value}")
    for domain, values in CATALOG.items()
    for value in values
]


def render(source: str, **context: Any) -> str:
    return Template(source).render(Context(context))


def parse_badge(html: str) -> dict[str, str]:
    match = re.fullmatch(
        r'<span class="badge badge-(?P<tone>\w+)" data-badge="(?P<key>[^"]*)"(?: title="(?P<title>[^"]*)")?>(?P<label>[^<]*)</span>',
        html.strip(),
    )
    assert match, html
    return {**match.groupdict(), "title": match["title"] or ""}  # no description: no title


@pytest.mark.parametrize(("domain", "value"), CATALOG_VALUES)
def test_it_renders_every_value_of_every_domain_with_its_label_and_tone(
    domain: str, value: str
) -> None:
    expected = CATALOG[domain][value]

    badge = parse_badge(render("{% badge domain value %}", domain=domain, value=value))

    assert badge["label"] == expected.label
    assert badge["tone"] == expected.tone
    assert badge["key"] == f"{domain}:{value}"
    assert badge["title"] == expected.description
    assert expected.label != UNKNOWN.label or value == "unknown"


@pytest.mark.parametrize(("domain", "enum"), list(ENUM_DOMAINS.items()))
def test_it_has_a_badge_for_every_value_of_the_model_enums(
    domain: str, enum: type[models.TextChoices]
) -> None:
    assert sorted(set(enum.values) - set(CATALOG[domain])) == [], (
        f"add badges for these {enum.__name__} values"
    )
    assert sorted(set(CATALOG[domain]) - set(enum.values)) == [], (
        f"badges for values {enum.__name__} lacks"
    )


@pytest.mark.parametrize(("domain", "enum"), list(ENUM_DOMAINS.items()))
def test_it_renders_enum_members_the_way_models_hand_them_to_templates(
    domain: str, enum: type[models.TextChoices]
) -> None:
    for member in enum:
        badge = parse_badge(render("{% badge domain value %}", domain=domain, value=member))
        assert badge["label"] == CATALOG[domain][member.value].label


def test_it_covers_every_credential_expiry_state() -> None:
    assert set(CATALOG["credential_expiry"]) == CREDENTIAL_EXPIRY_STATES


def test_it_uses_known_tones_with_styles_and_distinct_labels() -> None:
    css = (Path(django_settings.BASE_DIR) / "static" / "css" / "app.css").read_text()
    for domain, values in CATALOG.items():
        labels = [badge.label for badge in values.values()]
        assert len(labels) == len(set(labels)), domain
        for badge in values.values():
            assert badge.tone in TONES
            assert f".badge-{badge.tone}" in css


@pytest.mark.parametrize(
    ("domain", "value"),
    [
        ("health", "on fire"),
        ("health", "HEALTHY"),
        ("health", None),
        ("health", ""),
        ("run_status", "paused"),
        ("compliance_state", "Compliant"),
        ("no_such_domain", "enabled"),
        ("", "healthy"),
    ],
)
def test_it_renders_unknown_values_and_domains_as_a_neutral_unknown_badge(
    domain: str, value: Any
) -> None:
    badge = parse_badge(render("{% badge domain value %}", domain=domain, value=value))

    assert badge_for(domain, value) is UNKNOWN
    assert (badge["label"], badge["tone"]) == ("Unknown", "neutral")


def test_it_escapes_values_in_the_badge() -> None:
    html = render("{% badge 'health' value %}", value='"><script>alert(1)</script>')

    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert parse_badge(html)["label"] == "Unknown"


def test_it_lets_a_template_override_the_title() -> None:
    badge = parse_badge(render("{% badge 'health' 'degraded' 'Missing 2 permissions' %}"))

    assert badge["title"] == "Missing 2 permissions"
    assert badge["label"] == "Degraded"


NOW = dt.datetime(2026, 6, 1, 12, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("expires_at", "has_credential", "state"),
    [
        (None, False, "missing"),
        (NOW + dt.timedelta(days=400), False, "missing"),
        (None, True, "none"),
        (NOW - dt.timedelta(days=1), True, "expired"),
        (NOW, True, "expired"),
        (NOW + dt.timedelta(seconds=1), True, "expiring"),
        (NOW + dt.timedelta(days=30), True, "expiring"),
        (NOW + dt.timedelta(days=30, seconds=1), True, "valid"),
        (NOW + dt.timedelta(days=365), True, "valid"),
    ],
)
def test_it_derives_the_credential_expiry_state_from_the_date(
    expires_at: dt.datetime | None, has_credential: bool, state: str
) -> None:
    assert credential_expiry_state(expires_at, has_credential=has_credential, now=NOW) == state


def test_it_takes_the_warning_window_from_settings(settings: Any) -> None:
    settings.CREDENTIAL_EXPIRY_WARNING_DAYS = 7
    expires = NOW + dt.timedelta(days=10)

    assert credential_expiry_state(expires, now=NOW) == "valid"
    settings.CREDENTIAL_EXPIRY_WARNING_DAYS = 14
    assert credential_expiry_state(expires, now=NOW) == "expiring"


@pytest.mark.parametrize(
    ("days", "label"),
    [(-3, "Expired"), (5, "Expires soon"), (200, "Valid"), (None, "No expiry set")],
)
def test_it_renders_the_expiry_badge_of_a_credential(days: int | None, label: str) -> None:
    expires_at = timezone.now() + dt.timedelta(days=days) if days is not None else None
    credential = ProviderCredential(expires_at=expires_at)

    badge = parse_badge(render("{% credential_expiry_badge credential %}", credential=credential))

    assert badge["label"] == label
    if expires_at is not None:
        assert badge["title"] == f"Expires {expires_at:%Y-%m-%d}"


def test_it_renders_no_credential_for_a_connection_without_one() -> None:
    badge = parse_badge(render("{% credential_expiry_badge None %}"))

    assert (badge["label"], badge["tone"]) == ("No credential", "danger")


def test_it_returns_badges_as_plain_values() -> None:
    assert badge_for("health", "healthy") == Badge(
        "Healthy", "success", "Authentication, permissions and tenant check out."
    )


def test_a_brief_badge_leaves_its_description_to_the_pages_legend() -> None:
    brief = parse_badge(render('{% badge "health" "degraded" brief=True %}'))
    assert brief["title"] == ""
    assert brief["label"] == "Degraded"
    dated = parse_badge(render('{% badge "health" "degraded" "Since Monday" brief=True %}'))
    assert dated["title"] == "Since Monday"  # a title given is kept

    legend = render('{% badge_legend "health" "connection_status" %}')
    for domain in ("health", "connection_status"):
        for entry in CATALOG[domain].values():
            assert f">{entry.label}</span></dt><dd>{entry.description}</dd>" in legend
    assert "data-badge" not in legend  # no page element to mistake for a row's badge
