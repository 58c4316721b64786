"""The alert pages: rules and channels for everyone in the workspace, changes for managers, secrets
shown once or never, test deliveries queued (never sent by the page) and followed by polling,
a delivery log in keyset pages. Access rows for every route: workspaces/tests/routes.py."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import quote, quote_plus

import pytest
from django.urls import reverse
from django.utils import timezone

from tenantatlas.alerts import configuration
from tenantatlas.alerts.configuration import ChannelInput
from tenantatlas.alerts.models import (
    AlertChannel,
    AlertDelivery,
    AlertRule,
    ChannelKind,
    ChannelState,
    DeliveryStatus,
)
from tenantatlas.audit.models import AuditEvent
from tenantatlas.badges.catalog import UNKNOWN, badge_for
from tenantatlas.testing import KNOWN_SECRET, client_for, page_queries

HOOK = "https://hooks.example.com/tenantatlas/in?team=ops"
TEAMS = (
    f"https://prod-12.westeurope.logic.azure.com/workflows/7/triggers/manual/run?sig={KNOWN_SECRET}"
)


def url(name: str, workspace: Any, pk: int | None = None) -> str:
    kwargs: dict[str, Any] = {"slug": workspace.slug}
    if pk is not None:
        kwargs["pk"] = pk
    return reverse(f"alerts:{name}", kwargs=kwargs)


def _webhook(acme: Any, alice: Any, **fields: Any) -> AlertChannel:
    fields.setdefault("url", HOOK)
    data = ChannelInput(name=fields.pop("name", "Ops webhook"), kind=ChannelKind.WEBHOOK, **fields)
    return configuration.create_channel(actor=alice, workspace=acme, data=data).channel


def _delivery(channel: AlertChannel, **fields: Any) -> AlertDelivery:
    created_at = fields.pop("created_at", None)
    fields.setdefault("key", f"k-{AlertDelivery.objects.count()}-{timezone.now().timestamp()}")
    fields.setdefault("next_attempt_at", timezone.now())
    delivery = AlertDelivery.objects.create(
        workspace_id=channel.workspace_id, channel=channel, **fields
    )
    if created_at is not None:
        AlertDelivery.objects.filter(pk=delivery.pk).update(created_at=created_at)
    return delivery


def _text(response: Any) -> str:
    return response.content.decode()


# -- who sees and who changes ---------------------------------------------------------------------


def test_every_member_sees_the_rules_and_channels_and_only_managers_see_changes(acme, alice, vera):
    channel = _webhook(acme, alice)

    for user, manages in ((alice, True), (vera, False)):
        client = client_for(user)
        rules = _text(client.get(url("rules", acme)))
        channels = _text(client.get(url("channels", acme)))
        detail = _text(client.get(url("channel", acme, channel.pk)))
        assert "Run failures" in rules  # the workspace's default rules
        assert "Ops webhook" in channels
        assert "https://hooks.example.com/…" in detail
        assert ("Add rule" in rules) is manages
        assert ("Add channel" in channels) is manages
        assert ("Send test" in detail) is manages


def test_the_workspace_navigation_links_the_alerts(acme, vera):
    page = _text(client_for(vera).get(url("rules", acme)))

    assert re.search(rf'href="{url("rules", acme)}" aria-current="page">Alerts</a>', page)


@pytest.mark.parametrize("name", ["rule_create", "channel_create"])
def test_a_readonly_member_is_refused_the_forms_and_an_outsider_finds_nothing(
    name, acme, vera, mallory
):
    assert client_for(vera).get(url(name, acme)).status_code == 403
    assert client_for(mallory).get(url(name, acme)).status_code == 404
    assert client_for(mallory).get(url("rules", acme)).status_code == 404


# -- rules ----------------------------------------------------------------------------------------


def _rule_form(channel: AlertChannel, **fields: Any) -> dict[str, Any]:
    form = {
        "name": "Stale data",
        "event_kind": "data.stale",
        "is_enabled": "on",
        "scope": "all",
        "min_severity": "20",
        "digest": "immediate",
        "hours": "48",
        "recipient_roles": ["owner"],
        "channels": [str(channel.pk)],
    }
    form.update(fields)
    return form


def test_a_manager_creates_a_rule_for_chosen_connections(acme, alice, maggie, contoso, fabrikam):
    channel = _webhook(acme, alice)

    response = client_for(maggie).post(
        url("rule_create", acme),
        _rule_form(channel, scope="chosen", connections=[str(fabrikam.pk)], share_above="5"),
    )

    assert response.status_code == 302
    assert response["Location"] == url("rules", acme)
    rule = AlertRule.objects.get(name="Stale data")
    assert (rule.event_kind, rule.all_connections, rule.params) == (
        "data.stale",
        False,
        {"hours": 48},
    )
    assert list(rule.connections.all()) == [fabrikam]
    assert list(rule.channels.all()) == [channel]
    assert AuditEvent.objects.filter(action="alert_rule.created", actor=maggie).count() == 1
    listed = _text(client_for(maggie).get(url("rules", acme)))
    assert "Fabrikam" in listed
    assert "for 48 h" in listed


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"hours": "0"}, "hours", "between 1 and 720"),
        ({"scope": "chosen"}, "connections", "at least one connection"),
        ({"channels": ["987654"]}, "channels", "987654"),
        ({"name": "run failures"}, "name", "already"),
        (
            {"event_kind": "compliance.noncompliant", "share_above": "", "points_up": ""},
            "share_above",
            "or both",
        ),
    ],
)
def test_a_refused_rule_shows_why_on_its_field(acme, alice, fields, field, words):
    channel = _webhook(acme, alice)
    before = AlertRule.objects.count()

    response = client_for(alice).post(url("rule_create", acme), _rule_form(channel, **fields))

    assert response.status_code == 200
    assert AlertRule.objects.count() == before
    form = response.context["form"]
    assert words in " ".join(form.errors[field])
    assert '<small class="error" role="alert">' in _text(response)


def test_a_manager_edits_and_deletes_a_rule(acme, alice):
    rule = AlertRule.objects.for_workspace(acme).get(name="Connection health")
    client = client_for(alice)
    form = client.get(url("rule_edit", acme, rule.pk)).context["form"]
    assert form.initial["event_kind"] == "connection.health"

    data = {
        **_rule_form(AlertChannel.objects.for_workspace(acme).get(kind=ChannelKind.IN_APP)),
        "event_kind": "connection.health",
        "name": "Health",
    }
    assert client.post(url("rule_edit", acme, rule.pk), data).status_code == 302
    rule.refresh_from_db()
    assert rule.name == "Health"

    confirm = client.get(url("rule_delete", acme, rule.pk))
    assert "Delete the rule “Health”?" in _text(confirm)
    assert AlertRule.objects.filter(pk=rule.pk).exists()  # asking deletes nothing
    assert client.post(url("rule_delete", acme, rule.pk)).status_code == 302
    assert not AlertRule.objects.filter(pk=rule.pk).exists()


# -- channels and their secrets -------------------------------------------------------------------


def test_a_generated_signing_secret_is_shown_once_and_never_again(acme, alice):
    client = client_for(alice)

    created = client.post(
        url("channel_create", acme),
        {"name": "Ops webhook", "kind": "webhook", "is_enabled": "on", "url": HOOK, "secret": ""},
    )

    assert created.status_code == 200
    assert created["Cache-Control"] == "no-store"
    secret = re.search(r'id="new-secret-value" class="mono">(whsec_[\w-]+)<', _text(created))
    assert secret is not None
    channel = AlertChannel.objects.get(name="Ops webhook")
    for page in ("channel", "channel_edit", "channel_secret"):
        assert secret.group(1) not in _text(client.get(url(page, acme, channel.pk)))
    assert secret.group(1) not in _text(client.get(url("channels", acme)))


def test_a_given_secret_and_a_teams_url_appear_in_no_page(acme, alice, vera):
    client = client_for(alice)
    forms = [
        {"name": "Hook", "kind": "webhook", "url": HOOK, "secret": KNOWN_SECRET},
        {"name": "Chat", "kind": "teams", "teams_url": TEAMS},
    ]
    pages = []
    for form in forms:
        # Refused first (a name in use): the form comes back without the secret typed in it.
        pages.append(client.post(url("channel_create", acme), {**form, "name": "In-app"}))
        pages.append(client.post(url("channel_create", acme), form, follow=True))
    hook = AlertChannel.objects.get(name="Hook")
    chat = AlertChannel.objects.get(name="Chat")
    for channel in (hook, chat):
        configuration.send_test(actor=alice, channel=channel)
        for name in ("channel", "channel_edit", "channel_delete"):
            pages.append(client.get(url(name, acme, channel.pk)))
        pages.append(client_for(vera).get(url("channel", acme, channel.pk)))
        refused = {
            "name": "In-app",
            "kind": channel.kind,
            "secret": KNOWN_SECRET,
            "teams_url": TEAMS,
        }
        pages.append(client.post(url("channel_edit", acme, channel.pk), refused))
    pages.append(client.post(url("channel_secret", acme, hook.pk), {"secret": "short"}))
    pages += [client.get(url("channels", acme)), client.get(url("rules", acme))]

    assert all(p.status_code == 200 for p in pages), [p.status_code for p in pages]
    assert chat.url_display == "https://prod-12.westeurope.logic.azure.com/…"
    for page in pages:
        body = _text(page)
        for needle in (KNOWN_SECRET, quote_plus(KNOWN_SECRET), quote(KNOWN_SECRET, safe="")):
            assert needle not in body
        assert "/workflows/7/" not in body


def test_a_new_url_clears_a_failing_channel_through_the_form(acme, alice):
    channel = _webhook(acme, alice)
    AlertChannel.objects.filter(pk=channel.pk).update(
        state=ChannelState.FAILING, consecutive_failures=3, failing_since=timezone.now()
    )

    response = client_for(alice).post(
        url("channel_edit", acme, channel.pk),
        {"name": "Ops webhook", "is_enabled": "on", "url": "https://hooks.example.com/v2"},
    )

    assert response.status_code == 302
    channel.refresh_from_db()
    assert (channel.state, channel.url) == (ChannelState.OK, "https://hooks.example.com/v2")


def test_a_refused_url_is_explained_on_its_field(acme, alice):
    for form, field in (
        ({"kind": "webhook", "url": "https://192.168.1.20/in"}, "url"),
        ({"kind": "teams", "teams_url": "http://prod.logic.azure.com/x"}, "teams_url"),
    ):
        response = client_for(alice).post(url("channel_create", acme), {"name": "X", **form})

        assert response.status_code == 200
        assert response.context["form"].errors[field]


def test_replacing_the_secret_asks_first_then_shows_the_new_one_once(acme, alice):
    channel = _webhook(acme, alice, secret=KNOWN_SECRET)
    client = client_for(alice)
    before = channel.secret_ciphertext

    assert "Replace the signing secret" in _text(
        client.get(url("channel_secret", acme, channel.pk))
    )
    channel.refresh_from_db()
    assert channel.secret_ciphertext == before

    response = client.post(url("channel_secret", acme, channel.pk), {"secret": ""})
    assert response.status_code == 200
    assert re.search(r"whsec_[\w-]{43}", _text(response))
    channel.refresh_from_db()
    assert channel.secret_ciphertext != before


def test_deleting_a_channel_names_the_rules_that_used_it(acme, alice):
    channel = AlertChannel.objects.for_workspace(acme).get(kind=ChannelKind.EMAIL)
    client = client_for(alice)

    assert "Run failures" in _text(client.get(url("channel_delete", acme, channel.pk)))
    assert client.post(url("channel_delete", acme, channel.pk)).status_code == 302
    assert not AlertChannel.objects.filter(pk=channel.pk).exists()


# -- test deliveries and the delivery log ---------------------------------------------------------


def test_send_test_queues_a_delivery_and_the_page_follows_it_until_it_ends(acme, alice):
    channel = _webhook(acme, alice)
    client = client_for(alice)

    sent = client.post(url("channel_test", acme, channel.pk))

    assert sent.status_code == 302
    assert sent["Location"] == url("channel", acme, channel.pk)
    delivery = AlertDelivery.objects.get(channel=channel)
    assert (delivery.is_test, delivery.status, delivery.attempts) == (True, "pending", 0)
    assert delivery.requested_by == alice
    page = _text(client.get(sent["Location"]))
    assert 'hx-trigger="every 2s"' in page
    assert 'id="latest-test" data-status="pending"' in page

    poll = client.get(sent["Location"], headers={"HX-Request": "true"})
    assert poll.status_code == 200
    assert _text(poll).strip().startswith('<div id="channel-deliveries"')

    AlertDelivery.objects.filter(pk=delivery.pk).update(
        status=DeliveryStatus.DELIVERED, attempts=1, last_status_code=204
    )
    last = client.get(sent["Location"], headers={"HX-Request": "true"})
    assert last.status_code == 286  # stop polling: the test has ended
    assert 'data-status="delivered"' in _text(last)
    assert "every 2s" not in _text(last)


def test_a_second_send_test_follows_the_first_instead(acme, alice):
    channel = _webhook(acme, alice)
    client = client_for(alice)

    client.post(url("channel_test", acme, channel.pk))
    client.post(url("channel_test", acme, channel.pk))

    assert AlertDelivery.objects.filter(channel=channel).count() == 1


def test_the_delivery_log_is_newest_first_in_keyset_pages(acme, alice):
    channel = _webhook(acme, alice)
    rule = AlertRule.objects.for_workspace(acme).get(name="Run failures")
    start = timezone.now() - dt.timedelta(hours=1)
    for i in range(35):
        _delivery(
            channel,
            rule=rule,
            status=DeliveryStatus.DELIVERED,
            attempts=1,
            last_status_code=200,
            key=f"d-{i:02d}",
            created_at=start + dt.timedelta(minutes=i),
        )
    client = client_for(alice)

    first = client.get(url("channel", acme, channel.pk))
    shown = [d.key for d in first.context["page"].items]
    assert shown == [f"d-{i:02d}" for i in range(34, 4, -1)]
    assert first.context["active"] is False
    second = client.get(url("channel", acme, channel.pk) + first.context["page"].next_url)
    assert [d.key for d in second.context["page"].items] == [f"d-{i:02d}" for i in range(4, -1, -1)]
    bad = client.get(url("channel", acme, channel.pk) + "?after=garbage")
    assert bad.status_code == 400


def test_the_log_shows_errors_sanitized_and_urls_cut_to_their_host(acme, alice, vera):
    channel = _webhook(acme, alice)
    error = f"{HOOK} answered 500: upstream said Bearer eyJhbGciOi.payload.sig at {HOOK}&x=1"
    _delivery(
        channel, status=DeliveryStatus.FAILED, attempts=8, last_status_code=500, last_error=error
    )
    AlertChannel.objects.filter(pk=channel.pk).update(
        state=ChannelState.FAILING,
        consecutive_failures=3,
        failing_since=timezone.now(),
        last_error=error,
    )

    for page in (url("channel", acme, channel.pk), url("channels", acme)):
        body = _text(client_for(vera).get(page))
        assert "https://hooks.example.com/… answered 500" in body
        assert "team=ops" not in body
        assert "eyJhbGciOi" not in body
    detail = _text(client_for(vera).get(url("channel", acme, channel.pk)))
    assert "Failing since" in detail
    assert 'data-badge="alert_channel_state:failing"' in detail


def test_the_channel_page_reads_a_constant_number_of_rows(acme, alice):
    channel = _webhook(acme, alice)
    rule = AlertRule.objects.for_workspace(acme).first()
    client = client_for(alice)
    _delivery(channel, rule=rule, status=DeliveryStatus.DELIVERED)
    few = page_queries(client, url("channel", acme, channel.pk))

    for i in range(20):
        _delivery(channel, rule=rule, status=DeliveryStatus.DELIVERED, key=f"more-{i}")
        _delivery(channel, is_test=True, requested_by=alice, status="failed", key=f"test-{i}")

    assert page_queries(client, url("channel", acme, channel.pk)) == few


@pytest.mark.parametrize(
    ("domain", "values"),
    [
        ("alert_delivery_status", DeliveryStatus.values),
        ("alert_channel_state", ChannelState.values),
        ("alert_switch", ["on", "off"]),
        ("alert_severity", ["10", "20", "30"]),
    ],
)
def test_every_status_has_its_badge(domain, values):
    assert all(badge_for(domain, value) is not UNKNOWN for value in values)
