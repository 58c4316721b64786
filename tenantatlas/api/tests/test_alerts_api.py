"""The alerts endpoints: rules and channels through the API's envelope and cursors, refusals
on the request's own field names, write-only secrets (a generated one returned once), test
deliveries queued and never sent during the request. Access for every caller: test_isolation.py.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import quote_plus

import pytest
from django.utils import timezone

from tenantatlas.alerts.models import (
    AlertChannel,
    AlertDelivery,
    AlertRule,
    ChannelState,
    DeliveryStatus,
)
from tenantatlas.alerts.secrets import open_secret
from tenantatlas.audit.models import AuditEvent
from tenantatlas.testing import KNOWN_SECRET, make_connection

HOOK = "https://hooks.example.com/tenantatlas/in?team=ops"
TEAMS = (
    f"https://prod-1.westeurope.logic.azure.com/workflows/5/triggers/manual/run?sig={KNOWN_SECRET}"
)


@pytest.fixture
def api(api_for: Any, alice: Any) -> Any:
    return api_for(alice)


@pytest.fixture
def contoso(acme: Any, alice: Any) -> Any:
    return make_connection(acme, alice, name="Contoso")


def _ok(response: Any, status: int = 200) -> Any:
    assert response.status_code == status, response.content[:500]
    return response.json()


def _refused(response: Any, field: str, code: str = "invalid") -> str:
    assert response.status_code == 400, response.content[:500]
    error = response.json()["error"]
    assert (error["code"], error["field"]) == (code, field)
    return str(error["message"])


def _hook(api: Any, **fields: Any) -> dict[str, Any]:
    body = {"name": "Ops webhook", "kind": "webhook", "url": HOOK, **fields}
    return dict(_ok(api.call("POST", "/alerts/channels", body), 201))


# -- rules ----------------------------------------------------------------------------------------


def test_it_creates_reads_and_lists_rules(api, acme, contoso):
    channel = _hook(api)

    created = _ok(
        api.call(
            "POST",
            "/alerts/rules",
            {
                "name": "Compliance to ops",
                "event_kind": "compliance.noncompliant",
                "all_connections": False,
                "connection_ids": [contoso.pk],
                "min_severity": "critical",
                "digest": "daily",
                "recipient_roles": ["manager", "owner"],
                "params": {"share_above": 12.5, "hours": 3},
                "channel_ids": [channel["id"]],
            },
        ),
        201,
    )

    assert created["min_severity"] == "critical"
    assert created["recipient_roles"] == ["owner", "manager"]
    assert created["params"] == {
        "hours": None,
        "share_above": 12.5,
        "points_up": None,
        "kinds": None,
    }
    assert (created["connection_ids"], created["channel_ids"]) == ([contoso.pk], [channel["id"]])
    assert _ok(api.call("GET", f"/alerts/rules/{created['id']}")) == created
    page = _ok(api.call("GET", "/alerts/rules?limit=2"))
    assert [r["name"] for r in page["items"]] == ["Compliance to ops", "Connection health"]
    rest = _ok(api.call("GET", f"/alerts/rules?limit=2&cursor={page['next_cursor']}"))
    assert [r["name"] for r in rest["items"]] == ["Credential expiry", "Run failures"]
    assert rest["next_cursor"] is None
    entry = AuditEvent.objects.get(action="alert_rule.created")
    assert entry.via == "api"
    assert "api_token_id" in entry.metadata


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"name": "Run failures"}, "name", "duplicate_name"),
        ({"event_kind": "run.exploded"}, "event_kind", "invalid"),
        ({"min_severity": "loud"}, "min_severity", "invalid"),
        ({"all_connections": False}, "connection_ids", "invalid"),
        ({"all_connections": False, "connection_ids": [987654]}, "connection_ids", "invalid"),
        ({"channel_ids": [987654]}, "channel_ids", "invalid"),
        ({"event_kind": "data.stale", "params": {"hours": 0}}, "params.hours", "invalid"),
        ({"event_kind": "compliance.noncompliant"}, "params.share_above", "invalid"),
        (
            {"event_kind": "inventory.changes", "params": {"kinds": ["cats"]}},
            "params.kinds.0",
            "invalid",
        ),
        ({"recipient_roles": ["admin"]}, "recipient_roles.0", "invalid"),
    ],
)
def test_it_refuses_invalid_rules_on_the_requests_field(api, acme, body, field, code):
    before = AlertRule.objects.count()
    body = {"name": "New", "event_kind": "run.failed", **body}

    _refused(api.call("POST", "/alerts/rules", body), field, code)

    assert AlertRule.objects.count() == before


def test_it_refuses_a_connection_of_another_workspace(api, acme, globex, mallory):
    theirs = make_connection(globex, mallory, name="Initech")
    body = {"name": "New", "all_connections": False, "connection_ids": [theirs.pk]}

    _refused(
        api.call("POST", "/alerts/rules", {"event_kind": "run.failed", **body}), "connection_ids"
    )


def test_patch_changes_only_what_it_names(api, acme):
    rule = AlertRule.objects.for_workspace(acme).get(name="Run failures")
    before = _ok(api.call("GET", f"/alerts/rules/{rule.pk}"))

    after = _ok(api.call("PATCH", f"/alerts/rules/{rule.pk}", {"digest": "hourly"}))

    assert after == {**before, "digest": "hourly", "updated_at": after["updated_at"]}
    changed = _ok(
        api.call(
            "PATCH",
            f"/alerts/rules/{rule.pk}",
            {"event_kind": "data.stale", "params": {"hours": 6}, "channel_ids": []},
        )
    )
    assert (changed["event_kind"], changed["params"]["hours"], changed["channel_ids"]) == (
        "data.stale",
        6,
        [],
    )
    _refused(
        api.call("PATCH", f"/alerts/rules/{rule.pk}", {"event_kind": "compliance.noncompliant"}),
        "params.share_above",
    )


def test_it_deletes_a_rule(api, acme):
    rule = AlertRule.objects.for_workspace(acme).get(name="Run failures")

    assert api.call("DELETE", f"/alerts/rules/{rule.pk}").status_code == 204

    assert not AlertRule.objects.filter(pk=rule.pk).exists()
    assert AuditEvent.objects.filter(action="alert_rule.deleted", via="api").count() == 1


# -- channels and their secrets -------------------------------------------------------------------


def test_a_generated_signing_secret_is_returned_once_by_the_call_that_made_it(api, acme):
    created = _hook(api)

    secret = created["signing_secret"]
    assert secret.startswith("whsec_")
    channel = AlertChannel.objects.get(pk=created["id"])
    assert open_secret(channel.secret_ciphertext) == secret
    assert (created["secret_set"], created["url_display"]) == (True, "https://hooks.example.com/…")
    assert "url" not in created
    read = _ok(api.call("GET", f"/alerts/channels/{created['id']}"))
    assert "signing_secret" not in read
    assert read == {k: v for k, v in created.items() if k != "signing_secret"}
    for path in ("/alerts/channels", f"/alerts/channels/{created['id']}/deliveries"):
        assert secret not in api.call("GET", path).content.decode()

    replaced = _ok(api.call("POST", f"/alerts/channels/{created['id']}/secret", {}))
    assert replaced["signing_secret"].startswith("whsec_")
    assert replaced["signing_secret"] != secret
    given = _ok(api.call("POST", f"/alerts/channels/{created['id']}/secret", {"secret": "y" * 24}))
    assert given["signing_secret"] is None
    channel.refresh_from_db()
    assert open_secret(channel.secret_ciphertext) == "y" * 24


def test_no_answer_contains_a_given_secret_or_a_teams_url(api, acme, alice):
    hook = _hook(api, secret=KNOWN_SECRET)
    chat = _ok(
        api.call("POST", "/alerts/channels", {"name": "Chat", "kind": "teams", "url": TEAMS}), 201
    )
    assert (hook["signing_secret"], chat["signing_secret"]) == (None, None)
    assert chat["url_display"] == "https://prod-1.westeurope.logic.azure.com/…"
    answers = [
        api.call("GET", "/alerts/channels"),
        api.call("GET", f"/alerts/channels/{chat['id']}"),
        api.call("PATCH", f"/alerts/channels/{chat['id']}", {"name": "Chat 2", "url": TEAMS}),
        api.call("PATCH", f"/alerts/channels/{hook['id']}", {"secret": KNOWN_SECRET}),
        api.call("POST", f"/alerts/channels/{hook['id']}/test"),
        api.call("POST", f"/alerts/channels/{chat['id']}/test"),
        api.call("GET", f"/alerts/channels/{chat['id']}/deliveries"),
        # Refusals do not echo what was sent either.
        api.call("POST", "/alerts/channels", {"name": "In-app", "kind": "teams", "url": TEAMS}),
        api.call("PATCH", f"/alerts/channels/{hook['id']}", {"secret": KNOWN_SECRET + " x"}),
    ]
    assert [a.status_code for a in answers] == [200, 200, 200, 200, 202, 202, 200, 400, 400]
    for answer in answers:
        body = answer.content.decode()
        assert KNOWN_SECRET not in body
        assert quote_plus(KNOWN_SECRET) not in body
        assert "/workflows/5/" not in body


@pytest.mark.parametrize(
    ("body", "field", "code"),
    [
        ({"kind": "webhook", "url": "https://10.0.0.8/in"}, "url", "url_refused"),
        ({"kind": "teams", "url": "http://prod.logic.azure.com/x"}, "url", "url_refused"),
        ({"kind": "webhook"}, "url", "invalid"),
        ({"kind": "webhook", "url": HOOK, "secret": "short"}, "secret", "invalid"),
        ({"kind": "email", "addresses": ["nobody"]}, "addresses", "invalid"),
        ({"kind": "email", "to_members": False}, "addresses", "invalid"),
        ({"kind": "pager"}, "kind", "invalid"),
        ({"kind": "in_app", "name": "E-mail to members"}, "name", "duplicate_name"),
    ],
)
def test_it_refuses_invalid_channels_on_the_requests_field(api, acme, body, field, code):
    before = AlertChannel.objects.count()

    _refused(api.call("POST", "/alerts/channels", {"name": "New", **body}), field, code)

    assert AlertChannel.objects.count() == before


def test_a_new_url_makes_a_failing_channel_start_over(api, acme):
    hook = _hook(api)
    AlertChannel.objects.filter(pk=hook["id"]).update(
        state=ChannelState.FAILING,
        consecutive_failures=5,
        failing_since=timezone.now(),
        last_error=f"{HOOK} answered 503",
    )
    failing = _ok(api.call("GET", f"/alerts/channels/{hook['id']}"))
    assert (failing["state"], failing["consecutive_failures"]) == ("failing", 5)
    assert failing["last_error"] == "https://hooks.example.com/… answered 503"

    renamed = _ok(api.call("PATCH", f"/alerts/channels/{hook['id']}", {"name": "Ops"}))
    assert renamed["state"] == "failing"
    moved = _ok(
        api.call("PATCH", f"/alerts/channels/{hook['id']}", {"url": "https://hooks.example.com/v2"})
    )
    assert (moved["state"], moved["failing_since"], moved["last_error"]) == ("ok", None, "")


def test_it_deletes_a_channel(api, acme):
    hook = _hook(api)

    assert api.call("DELETE", f"/alerts/channels/{hook['id']}").status_code == 204

    assert not AlertChannel.objects.filter(pk=hook["id"]).exists()


# -- test deliveries and the log ------------------------------------------------------------------


def test_send_test_queues_a_delivery_and_sends_nothing_during_the_request(
    api, acme, alice, db_only_guard
):
    hook = _hook(api)

    sent = _ok(api.call("POST", f"/alerts/channels/{hook['id']}/test"), 202)

    assert sent["key"].startswith("test-")
    assert (sent["is_test"], sent["status"], sent["attempts"]) == (True, "pending", 0)
    assert (sent["rule_id"], sent["requested_by"]) == (None, "alice")
    assert AlertDelivery.objects.get(pk=sent["id"]).status == DeliveryStatus.PENDING
    assert db_only_guard == []  # the request opened no outbound connection
    again = _ok(api.call("POST", f"/alerts/channels/{hook['id']}/test"), 200)
    assert again["id"] == sent["id"]
    assert _ok(api.call("GET", f"/alerts/deliveries/{sent['id']}")) == sent
    entry = AuditEvent.objects.get(action="alert_channel.test_sent")
    assert (entry.via, entry.metadata["delivery_id"]) == ("api", sent["id"])


def test_the_delivery_log_is_newest_first_in_cursor_pages(api, acme):
    hook = _hook(api)
    channel = AlertChannel.objects.get(pk=hook["id"])
    start = timezone.now() - dt.timedelta(hours=1)
    for i in range(5):
        delivery = AlertDelivery.objects.create(
            workspace=acme, channel=channel, key=f"d-{i}", next_attempt_at=start
        )
        AlertDelivery.objects.filter(pk=delivery.pk).update(
            created_at=start + dt.timedelta(minutes=i)
        )
    path = f"/alerts/channels/{hook['id']}/deliveries"

    first = _ok(api.call("GET", f"{path}?limit=3"))
    second = _ok(api.call("GET", f"{path}?limit=3&cursor={first['next_cursor']}"))

    assert [d["key"] for d in first["items"]] == ["d-4", "d-3", "d-2"]
    assert [d["key"] for d in second["items"]] == ["d-1", "d-0"]
    assert second["next_cursor"] is None
    _refused(api.call("GET", f"{path}?cursor=garbage"), "cursor")


def test_a_readonly_token_reads_and_cannot_change(api_for, acme, vera):
    api = api_for(vera)
    channel = AlertChannel.objects.for_workspace(acme).get(kind="in_app")

    assert api.call("GET", "/alerts/rules").status_code == 200
    assert api.call("GET", f"/alerts/channels/{channel.pk}").status_code == 200
    refused = api.call("POST", f"/alerts/channels/{channel.pk}/test")
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert not AlertDelivery.objects.exists()
