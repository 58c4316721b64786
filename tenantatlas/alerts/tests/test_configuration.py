"""The alert configuration services: every input rule on its field, write-only secrets, audit
entries, and test deliveries that are only queued (the workers send them)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from typing import Any

import pytest
from django.db import connection as db
from django.utils import timezone

from tenantatlas.alerts import configuration
from tenantatlas.alerts.configuration import ChannelInput, RuleInput
from tenantatlas.alerts.models import (
    AlertChannel,
    AlertDelivery,
    AlertRule,
    ChannelKind,
    ChannelState,
    DeliveryStatus,
    Digest,
    EventKind,
    Severity,
)
from tenantatlas.alerts.secrets import open_secret
from tenantatlas.audit.models import AuditEvent
from tenantatlas.lib.errors import InvalidInput
from tenantatlas.providers.services.connections import delete_connection
from tenantatlas.testing import KNOWN_SECRET

HOOK = "https://hooks.example.com/tenantatlas/receive?team=ops"
TEAMS = (
    "https://prod-12.westeurope.logic.azure.com:443/workflows/0a1b2c3d/triggers/manual/paths/"
    f"invoke?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={KNOWN_SECRET}"
)


def _webhook(acme: Any, alice: Any, **fields: Any) -> AlertChannel:
    data = ChannelInput(name="Ops webhook", kind=ChannelKind.WEBHOOK, url=HOOK, **fields)
    return configuration.create_channel(actor=alice, workspace=acme, data=data).channel


def _rule(**fields: Any) -> RuleInput:
    fields.setdefault("name", "Failures to ops")
    fields.setdefault("event_kind", EventKind.RUN_FAILED)
    return RuleInput(**fields)


def _audit(action: str) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(action=action).order_by("pk"))


# -- rules ----------------------------------------------------------------------------------------


def test_it_creates_a_rule_for_chosen_connections_with_its_audit_entry(
    acme, alice, contoso, fabrikam
):
    channel = _webhook(acme, alice)

    rule = configuration.create_rule(
        actor=alice,
        workspace=acme,
        data=_rule(
            event_kind=EventKind.DATA_STALE,
            all_connections=False,
            connection_ids=[fabrikam.pk],
            min_severity=Severity.CRITICAL,
            digest=Digest.HOURLY,
            recipient_roles=["manager", "owner"],
            params={"hours": 48, "share_above": 10},
            channel_ids=[channel.pk],
        ),
    )

    rule.refresh_from_db()
    assert (rule.event_kind, rule.all_connections, rule.min_severity, rule.digest) == (
        EventKind.DATA_STALE,
        False,
        Severity.CRITICAL,
        Digest.HOURLY,
    )
    assert list(rule.connections.all()) == [fabrikam]
    assert list(rule.channels.all()) == [channel]
    assert rule.recipient_roles == ["owner", "manager"]  # in the roles' order
    assert rule.params == {"hours": 48}  # another kind's fields are dropped
    assert rule.created_by == alice
    [entry] = _audit("alert_rule.created")
    assert (entry.target_id, entry.actor) == (str(rule.pk), alice)
    assert entry.metadata["connection_ids"] == [fabrikam.pk]
    assert entry.metadata["channel_ids"] == [channel.pk]


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"name": "   "}, "name", "Enter a name"),
        ({"name": "x" * 101}, "name", "at most 100"),
        ({"name": "run failures"}, "name", "named “run failures” already"),  # a default rule
        ({"event_kind": "run.exploded"}, "event_kind", "offered events"),
        ({"all_connections": False}, "connections", "at least one connection"),
        ({"min_severity": 25}, "min_severity", "offered severities"),
        ({"digest": "weekly"}, "digest", "offered digests"),
        ({"recipient_roles": ["owner", "admin"]}, "recipient_roles", "offered ones"),
        ({"channel_ids": [987654]}, "channels", "channels of this workspace"),
        ({"event_kind": "data.stale", "params": {"hours": 0}}, "hours", "between 1 and 720"),
        ({"event_kind": "data.stale", "params": {"hours": 721}}, "hours", "between 1 and 720"),
        ({"event_kind": "data.stale", "params": {"hours": 1.5}}, "hours", "whole hours"),
        ({"event_kind": "data.stale", "params": {"hours": True}}, "hours", "as a number"),
        ({"event_kind": "data.stale", "params": {"hours": "24"}}, "hours", "as a number"),
        ({"event_kind": "compliance.noncompliant"}, "share_above", "or both"),
        (
            {"event_kind": "compliance.noncompliant", "params": {"share_above": 100}},
            "share_above",
            "between 0 and 99.9",
        ),
        (
            {"event_kind": "compliance.noncompliant", "params": {"share_above": float("nan")}},
            "share_above",
            "between",
        ),
        (
            {"event_kind": "compliance.noncompliant", "params": {"points_up": 0}},
            "points_up",
            "between 0.1 and 100",
        ),
        (
            {"event_kind": "inventory.changes", "params": {"kinds": ["managed_device", "cats"]}},
            "kinds",
            "offered ones",
        ),
        ({"event_kind": "inventory.changes", "params": {"kinds": "managed_device"}}, "kinds", ""),
    ],
)
def test_it_refuses_invalid_rules_on_the_field_at_fault(acme, alice, fields, field, words):
    channel = _webhook(acme, alice)
    fields.setdefault("channel_ids", [channel.pk])
    before = AlertRule.objects.count(), AuditEvent.objects.count()

    with pytest.raises(InvalidInput) as refused:
        configuration.create_rule(actor=alice, workspace=acme, data=_rule(**fields))

    assert refused.value.field == field
    assert words in refused.value.message
    assert (AlertRule.objects.count(), AuditEvent.objects.count()) == before


def test_it_refuses_connections_of_another_workspace_and_deleted_ones(
    acme, alice, contoso, fabrikam, initech
):
    channel = _webhook(acme, alice)
    delete_connection(actor=alice, connection=fabrikam)

    for chosen in ([initech.pk], [contoso.pk, fabrikam.pk], [987654]):
        with pytest.raises(InvalidInput) as refused:
            configuration.create_rule(
                actor=alice,
                workspace=acme,
                data=_rule(all_connections=False, connection_ids=chosen, channel_ids=[channel.pk]),
            )
        assert refused.value.field == "connections"


def test_it_refuses_channels_of_another_workspace(acme, alice, globex):
    theirs = AlertChannel.objects.for_workspace(globex).get(kind=ChannelKind.IN_APP)

    with pytest.raises(InvalidInput) as refused:
        configuration.create_rule(actor=alice, workspace=acme, data=_rule(channel_ids=[theirs.pk]))

    assert refused.value.field == "channels"


def test_it_keeps_each_kinds_own_conditions(acme, alice):
    channel = _webhook(acme, alice)

    def made(kind: str, params: dict[str, Any]) -> dict[str, Any]:
        rule = configuration.create_rule(
            actor=alice,
            workspace=acme,
            data=_rule(name=kind, event_kind=kind, params=params, channel_ids=[channel.pk]),
        )
        return dict(rule.params)

    assert made(EventKind.DATA_STALE, {}) == {"hours": 24}
    assert made(EventKind.COMPLIANCE, {"points_up": 5}) == {"points_up": 5.0}
    assert made(EventKind.CHANGES, {"kinds": ["mobile_app", "managed_device"]}) == {
        "kinds": ["managed_device", "mobile_app"]
    }
    assert made(EventKind.CREDENTIAL_EXPIRY, {"hours": 3}) == {}


def test_it_updates_a_rule_and_audits_only_what_changed(acme, alice, contoso):
    channel = _webhook(acme, alice)
    in_app = AlertChannel.objects.for_workspace(acme).get(kind=ChannelKind.IN_APP)
    rule = configuration.create_rule(
        actor=alice, workspace=acme, data=_rule(channel_ids=[in_app.pk])
    )
    rule = AlertRule.objects.prefetch_related("connections", "channels").get(pk=rule.pk)
    data = configuration.rule_input_of(rule)

    configuration.update_rule(actor=alice, rule=rule, data=data)  # nothing changed
    configuration.update_rule(
        actor=alice,
        rule=rule,
        data=dataclasses.replace(
            data,
            name="Failures (chosen)",
            all_connections=False,
            connection_ids=[contoso.pk],
            channel_ids=[channel.pk],
        ),
    )

    rule.refresh_from_db()
    assert rule.name == "Failures (chosen)"
    assert [c.pk for c in rule.channels.all()] == [channel.pk]
    [entry] = _audit("alert_rule.updated")
    assert entry.metadata["changes"] == {
        "name": {"from": "Failures to ops", "to": "Failures (chosen)"},
        "all_connections": {"from": True, "to": False},
        "connection_ids": {"from": [], "to": [contoso.pk]},
        "channel_ids": {"from": [in_app.pk], "to": [channel.pk]},
    }


def test_it_deletes_a_rule_with_its_audit_entry(acme, alice):
    rule = AlertRule.objects.for_workspace(acme).get(name="Run failures")
    pk = rule.pk

    configuration.delete_rule(actor=alice, rule=rule)

    assert not AlertRule.objects.filter(pk=pk).exists()
    [entry] = _audit("alert_rule.deleted")
    assert (entry.target_id, entry.target_label) == (str(pk), "Run failures")


# -- channels -------------------------------------------------------------------------------------


def test_it_generates_a_webhook_secret_when_none_is_given_and_hands_it_back_once(acme, alice):
    saved = configuration.create_channel(
        actor=alice,
        workspace=acme,
        data=ChannelInput(name="Ops webhook", kind=ChannelKind.WEBHOOK, url=HOOK),
    )

    channel = AlertChannel.objects.get(pk=saved.channel.pk)
    assert saved.new_secret is not None
    assert re.fullmatch(r"whsec_[A-Za-z0-9_-]{43}", saved.new_secret)
    assert open_secret(channel.secret_ciphertext) == saved.new_secret
    assert saved.new_secret not in channel.secret_ciphertext
    assert channel.secret_set_at is not None
    assert (channel.url, channel.url_display) == (HOOK, "https://hooks.example.com/…")
    [entry] = _audit("alert_channel.created")
    assert entry.metadata == {
        "kind": "webhook",
        "name": "Ops webhook",
        "to_members": False,
        "addresses": [],
        "url": "https://hooks.example.com/…",
        "is_enabled": True,
        "signing": "generated",
    }


def test_it_seals_a_given_secret_and_a_teams_url_and_shows_neither(acme, alice):
    hook = _webhook(acme, alice, secret=KNOWN_SECRET)
    teams = configuration.create_channel(
        actor=alice,
        workspace=acme,
        data=ChannelInput(name="Ops chat", kind=ChannelKind.TEAMS, url=TEAMS),
    )

    assert teams.new_secret is None
    hook.refresh_from_db()
    chat = AlertChannel.objects.get(pk=teams.channel.pk)
    assert open_secret(hook.secret_ciphertext) == KNOWN_SECRET
    assert open_secret(chat.secret_ciphertext) == TEAMS.replace(":443", "")
    assert chat.url == ""
    assert chat.url_display == "https://prod-12.westeurope.logic.azure.com/…"
    _assert_nowhere_but_the_ciphertext(KNOWN_SECRET)


def _assert_nowhere_but_the_ciphertext(needle: str) -> None:
    """Not in any column of any table (the sealed secret aside), nor in the audit log."""
    with db.cursor() as cursor:
        for table in db.introspection.table_names(cursor):
            columns = [
                c.name
                for c in db.introspection.get_table_description(cursor, table)
                if (table, c.name) != (AlertChannel._meta.db_table, "secret_ciphertext")
            ]
            quoted = ", ".join(db.ops.quote_name(c) for c in columns)
            cursor.execute(f"SELECT {quoted} FROM {db.ops.quote_name(table)}")
            for row in cursor.fetchall():
                assert needle not in json.dumps([str(v) for v in row]), table


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://hooks.example.com/in", "Use https://"),
        ("https://user:pass@hooks.example.com/in", "user name and password"),
        ("https://10.1.2.3/in", "public addresses"),
        ("https://localhost/in", "public addresses"),
        ("hooks.example.com/in", "absolute URL"),
    ],
)
@pytest.mark.parametrize("kind", [ChannelKind.WEBHOOK, ChannelKind.TEAMS])
def test_it_refuses_receiver_urls_the_outbound_rules_forbid(acme, alice, kind, url, words):
    with pytest.raises(InvalidInput) as refused:
        configuration.create_channel(
            actor=alice, workspace=acme, data=ChannelInput(name="Hook", kind=kind, url=url)
        )

    assert (refused.value.field, refused.value.code) == ("url", "url_refused")
    assert words in refused.value.message
    assert not AlertChannel.objects.filter(name="Hook").exists()


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        (ChannelInput(name="", kind="email"), "name", "Enter a name"),
        (ChannelInput(name="in-app", kind="in_app"), "name", "already"),  # the default one
        (ChannelInput(name="Pager", kind="pager"), "kind", "offered kinds"),
        (ChannelInput(name="Hook", kind="webhook"), "url", "receiver's URL"),
        (ChannelInput(name="Chat", kind="teams", url=""), "url", "receiver's URL"),
        (ChannelInput(name="Hook", kind="webhook", url=HOOK, secret="short"), "secret", "16 to"),
        (
            ChannelInput(name="Hook", kind="webhook", url=HOOK, secret="s p a c e s 1234567"),
            "secret",
            "spaces",
        ),
        (
            ChannelInput(
                name="Mail", kind="email", addresses=["ops@example.com", "not-an-address"]
            ),
            "addresses",
            "“not-an-address” is not an e-mail address",
        ),
        (
            ChannelInput(
                name="Mail", kind="email", addresses=[f"o{i}@x.example" for i in range(21)]
            ),
            "addresses",
            "at most 20",
        ),
        (ChannelInput(name="Mail", kind="email", to_members=False), "addresses", "Add an address"),
    ],
)
def test_it_refuses_invalid_channels_on_the_field_at_fault(acme, alice, data, field, words):
    before = AlertChannel.objects.count(), AuditEvent.objects.count()

    with pytest.raises(InvalidInput) as refused:
        configuration.create_channel(actor=alice, workspace=acme, data=data)

    assert refused.value.field == field
    assert words in refused.value.message
    assert (AlertChannel.objects.count(), AuditEvent.objects.count()) == before


def test_it_keeps_each_kinds_own_recipients(acme, alice):
    def made(data: ChannelInput) -> AlertChannel:
        return configuration.create_channel(actor=alice, workspace=acme, data=data).channel

    mail = made(
        ChannelInput(
            name="Mail",
            kind="email",
            to_members=False,
            addresses=[" ops@example.com ", "", "OPS@example.com", "sec@example.com"],
        )
    )
    bell = made(ChannelInput(name="Bell", kind="in_app", to_members=False, addresses=["a@b.c"]))
    hook = made(ChannelInput(name="Hook", kind="webhook", url=HOOK, addresses=["a@b.c"]))

    assert (mail.to_members, mail.addresses) == (False, ["ops@example.com", "sec@example.com"])
    assert (bell.to_members, bell.addresses) == (True, [])  # in-app reaches members only
    assert (hook.to_members, hook.addresses) == (False, [])


def _failing(channel: AlertChannel) -> None:
    AlertChannel.objects.filter(pk=channel.pk).update(
        state=ChannelState.FAILING,
        consecutive_failures=4,
        failing_since=timezone.now() - dt.timedelta(hours=2),
        last_error="https://hooks.example.com/… answered 500",
    )
    channel.refresh_from_db()


def test_a_new_url_resets_a_failing_channel_and_a_rename_does_not(acme, alice):
    channel = _webhook(acme, alice)
    sealed = channel.secret_ciphertext
    _failing(channel)
    data = configuration.channel_input_of(channel)

    configuration.update_channel(
        actor=alice, channel=channel, data=dataclasses.replace(data, name="Ops")
    )
    channel.refresh_from_db()
    assert (channel.state, channel.consecutive_failures, channel.url) == ("failing", 4, HOOK)
    assert channel.secret_ciphertext == sealed  # an empty secret keeps the current one

    new_url = "https://hooks.example.com/tenantatlas/v2"
    configuration.update_channel(
        actor=alice, channel=channel, data=dataclasses.replace(data, name="Ops", url=new_url)
    )
    channel.refresh_from_db()
    assert (channel.state, channel.consecutive_failures, channel.failing_since) == ("ok", 0, None)
    assert (channel.url, channel.last_error, channel.secret_ciphertext) == (new_url, "", sealed)
    rename, move = _audit("alert_channel.updated")
    assert rename.metadata["changes"] == {"name": {"from": "Ops webhook", "to": "Ops"}}
    assert move.metadata["changes"] == {
        "url": {"from": "https://hooks.example.com/…", "to": "https://hooks.example.com/…"}
    }
    assert _audit("alert_channel.secret_set") == []


def test_a_new_teams_url_is_sealed_audited_as_a_secret_and_resets_the_channel(acme, alice):
    data = ChannelInput(name="Chat", kind=ChannelKind.TEAMS, url=TEAMS)
    channel = configuration.create_channel(actor=alice, workspace=acme, data=data).channel
    _failing(channel)
    other = "https://prod-99.westeurope.logic.azure.com/workflows/9/triggers/manual/run?sig=abc"

    configuration.update_channel(
        actor=alice, channel=channel, data=dataclasses.replace(data, url=other)
    )

    channel.refresh_from_db()
    assert open_secret(channel.secret_ciphertext) == other
    assert channel.url_display == "https://prod-99.westeurope.logic.azure.com/…"
    assert channel.state == ChannelState.OK
    [entry] = _audit("alert_channel.secret_set")
    assert entry.metadata == {"what": "workflow URL", "generated": False}


def test_a_channels_kind_cannot_change(acme, alice):
    channel = _webhook(acme, alice)
    data = dataclasses.replace(configuration.channel_input_of(channel), kind=ChannelKind.EMAIL)

    with pytest.raises(InvalidInput) as refused:
        configuration.update_channel(actor=alice, channel=channel, data=data)

    assert refused.value.field == "kind"


def test_it_replaces_a_webhook_secret_on_demand(acme, alice):
    channel = _webhook(acme, alice, secret=KNOWN_SECRET)
    _failing(channel)

    generated = configuration.replace_secret(actor=alice, channel=channel).new_secret
    channel.refresh_from_db()
    assert generated
    assert open_secret(channel.secret_ciphertext) == generated
    assert channel.state == ChannelState.OK

    given = configuration.replace_secret(actor=alice, channel=channel, secret="x" * 20)
    channel.refresh_from_db()
    assert given.new_secret is None
    assert open_secret(channel.secret_ciphertext) == "x" * 20
    entries = _audit("alert_channel.secret_set")
    assert [e.metadata["generated"] for e in entries] == [True, False]
    assert generated not in json.dumps([e.metadata for e in AuditEvent.objects.all()])


def test_only_a_webhook_has_a_secret_to_replace(acme, alice):
    in_app = AlertChannel.objects.for_workspace(acme).get(kind=ChannelKind.IN_APP)

    with pytest.raises(InvalidInput) as refused:
        configuration.replace_secret(actor=alice, channel=in_app)

    assert refused.value.field == "secret"


def test_it_deletes_a_channel_and_keeps_the_rules_that_used_it(acme, alice):
    channel = AlertChannel.objects.for_workspace(acme).get(kind=ChannelKind.EMAIL)
    pk, rules = channel.pk, sorted(channel.rules.values_list("pk", flat=True))

    configuration.delete_channel(actor=alice, channel=channel)

    assert not AlertChannel.objects.filter(pk=pk).exists()
    assert AlertRule.objects.filter(pk__in=rules).count() == 3
    [entry] = _audit("alert_channel.deleted")
    assert entry.metadata == {"kind": "email", "rule_ids": rules}


# -- test deliveries ------------------------------------------------------------------------------


def test_send_test_queues_a_pending_test_delivery_for_after_commit(
    acme, alice, django_capture_on_commit_callbacks, monkeypatch
):
    channel = _webhook(acme, alice)
    enqueued: list[int] = []
    monkeypatch.setattr(
        "tenantatlas.alerts.configuration.channels.enqueue_delivery", enqueued.append
    )

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        sent = configuration.send_test(actor=alice, channel=channel)
        assert enqueued == []  # not before the transaction commits

    delivery = AlertDelivery.objects.get(pk=sent.delivery.pk)
    assert sent.created
    assert re.fullmatch(r"test-[0-9a-f-]{36}", delivery.key)
    assert (delivery.is_test, delivery.rule, delivery.requested_by) == (True, None, alice)
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.PENDING, 0)
    assert delivery.next_attempt_at <= timezone.now()
    assert len(callbacks) == 1
    assert enqueued == [delivery.pk]
    [entry] = _audit("alert_channel.test_sent")
    assert entry.metadata == {"delivery_id": delivery.pk, "delivery_key": delivery.key}


def test_a_test_on_its_way_is_answered_instead_of_a_second(acme, alice, maggie):
    channel = _webhook(acme, alice)
    first = configuration.send_test(actor=alice, channel=channel)

    again = configuration.send_test(actor=maggie, channel=channel)
    assert (again.delivery.pk, again.created) == (first.delivery.pk, False)
    assert len(_audit("alert_channel.test_sent")) == 1

    AlertDelivery.objects.filter(pk=first.delivery.pk).update(status=DeliveryStatus.DELIVERED)
    later = configuration.send_test(actor=maggie, channel=channel)
    assert later.created
    assert later.delivery.pk != first.delivery.pk
    assert later.delivery.requested_by == maggie
