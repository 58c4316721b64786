"""Delivery to real receivers: signatures, retries, Retry-After, failing channels, the sweeper."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone

from tenantatlas.alerts.delivery import claim, deliver, sweep
from tenantatlas.alerts.models import (
    AlertChannel,
    AlertDelivery,
    AlertEvent,
    AlertRule,
    ChannelKind,
    ChannelState,
    DeliveryStatus,
    EventKind,
    Severity,
)
from tenantatlas.alerts.secrets import seal
from tenantatlas.alerts.services import NewEvent, raise_event
from tenantatlas.alerts.tests.workers import deliver_due
from tenantatlas.notifications.models import Notification
from tenantatlas.testing import make_connection


def _webhook_rule(
    workspace, url: str, secret: str, **rule_fields
) -> tuple[AlertRule, AlertChannel]:
    channel = AlertChannel.objects.create(
        workspace=workspace,
        name="Service desk hook",
        kind=ChannelKind.WEBHOOK,
        url=url,
        secret_ciphertext=seal(secret),
    )
    rule = AlertRule.objects.create(
        workspace=workspace,
        name="Everything to the desk",
        event_kind=rule_fields.pop("event_kind", EventKind.RUN_FAILED),
        min_severity=Severity.INFO,
        **rule_fields,
    )
    rule.channels.set([channel])
    return rule, channel


def _event(workspace, connection, key: str = "run:1", **fields) -> AlertEvent | None:
    return raise_event(
        NewEvent(
            workspace_id=workspace.pk,
            kind=fields.pop("kind", EventKind.RUN_FAILED),
            severity=fields.pop("severity", Severity.CRITICAL),
            key=key,
            title=fields.pop("title", f"Inventory sync failed: {connection.display_name}"),
            body="Graph timed out.",
            path="/w/acme/runs/1/",
            connection_id=connection.pk,
            **fields,
        )
    )


def _only_webhook(workspace) -> None:
    """Leave the default rules out of these tests: only the rule under test listens."""
    AlertRule.objects.filter(workspace=workspace).exclude(name="Everything to the desk").delete()


@pytest.fixture
def desk(acme, alice, webhook):
    conn = make_connection(acme, alice, name="Contoso")
    rule, channel = _webhook_rule(acme, webhook.url, webhook.secret)
    _only_webhook(acme)
    return conn, rule, channel


def test_it_posts_the_documented_payload_with_a_valid_signature(acme, desk, webhook):
    conn, rule, channel = desk
    event = _event(acme, conn)
    assert deliver_due() == [DeliveryStatus.DELIVERED]

    [request] = webhook.received
    assert request.signature_ok is True
    delivery = AlertDelivery.objects.get()
    assert (
        request.headers["X-TenantAtlas-Delivery"]
        == delivery.key
        == f"r{rule.pk}-e{event.pk}-c{channel.pk}"
    )
    document = request.json()
    assert document["schema"] == "tenantatlas.alert.v1"
    assert document["id"] == delivery.key
    assert document["rule"] == {"id": rule.pk, "name": rule.name, "digest": "immediate"}
    [alert] = document["alerts"]
    assert alert["kind"] == "run.failed"
    assert alert["severity"] == "critical"
    assert alert["connection"] == {
        "id": conn.pk,
        "name": "Contoso",
        "tenant_id": str(conn.entra_tenant_id),
    }
    assert alert["url"].endswith("/w/acme/runs/1/")
    assert delivery.status == DeliveryStatus.DELIVERED
    assert delivery.last_status_code == 204


def test_a_tampered_body_fails_the_documented_check(acme, desk, webhook):
    from tenantatlas.alerts.tests.receivers import verify_signature

    conn, _rule, _channel = desk
    _event(acme, conn)
    deliver_due()
    [request] = webhook.received
    assert verify_signature(webhook.secret, request.headers, request.body)
    assert not verify_signature(webhook.secret, request.headers, request.body + b" ")
    assert not verify_signature("another-secret-of-some-length", request.headers, request.body)


def test_it_waits_out_retry_after_exactly(acme, desk, webhook):
    conn, _rule, _channel = desk
    webhook.answer(429, headers={"Retry-After": "7"})
    _event(acme, conn)
    assert deliver_due() == [DeliveryStatus.PENDING]

    delivery = AlertDelivery.objects.get()
    assert delivery.last_status_code == 429
    assert delivery.next_attempt_at - delivery.last_attempt_at == dt.timedelta(seconds=7)
    # Not a moment before: a worker that gets it early leaves it alone.
    assert claim(delivery.pk, delivery.next_attempt_at - dt.timedelta(milliseconds=1)) is None
    AlertDelivery.objects.filter(pk=delivery.pk).update(next_attempt_at=timezone.now())
    assert deliver(delivery.pk) == DeliveryStatus.DELIVERED
    assert len(webhook.received) == 2
    assert len(webhook.by_delivery()[delivery.key]) == 2  # the same id both times


def test_server_errors_are_retried_with_backoff_and_a_refusal_is_not(acme, desk, webhook, settings):
    conn, _rule, _channel = desk
    settings.ALERT_BACKOFF_BASE_SECONDS = 0.0  # full jitter in [0, 0]: due at once
    webhook.answer(503, times=2)
    _event(acme, conn, key="run:1")
    assert deliver_due() == [
        DeliveryStatus.PENDING,
        DeliveryStatus.PENDING,
        DeliveryStatus.DELIVERED,
    ]
    assert AlertDelivery.objects.get().attempts == 3

    webhook.answer(400)
    _event(acme, conn, key="run:2")
    assert deliver_due() == [DeliveryStatus.FAILED]
    failed = AlertDelivery.objects.get(status=DeliveryStatus.FAILED)
    assert failed.attempts == 1
    assert "answered 400" in failed.last_error
    assert "/hooks/" not in failed.last_error  # only scheme://host… of the URL is ever shown


def test_it_gives_up_after_the_last_attempt(acme, desk, webhook, settings):
    conn, _rule, _channel = desk
    settings.ALERT_BACKOFF_BASE_SECONDS = 0.0
    settings.ALERT_MAX_ATTEMPTS = 3
    webhook.answer(500, times=10)
    _event(acme, conn)
    assert deliver_due() == [DeliveryStatus.PENDING, DeliveryStatus.PENDING, DeliveryStatus.FAILED]
    assert AlertDelivery.objects.get().attempts == 3


def test_a_channel_that_keeps_failing_is_marked_and_its_owners_are_told_once(
    acme, alice, maggie, desk, webhook, settings
):
    conn, _rule, channel = desk
    settings.ALERT_CHANNEL_FAILING_AFTER = 3
    webhook.answer(404, times=5)
    for n in range(5):
        _event(acme, conn, key=f"run:{n}")
    deliver_due()
    channel.refresh_from_db()
    assert channel.state == ChannelState.FAILING
    assert channel.consecutive_failures == 5
    told = Notification.objects.filter(kind="alert.channel_failing")
    assert [n.user.username for n in told] == ["alice"]  # owners only, once
    assert told.get().url == f"/w/acme/alerts/channels/{channel.pk}/"

    _event(acme, conn, key="run:ok")
    deliver_due()
    channel.refresh_from_db()
    assert (channel.state, channel.consecutive_failures) == (ChannelState.OK, 0)


def test_a_failing_channel_never_holds_up_another(acme, alice, desk, webhook, settings, tmp_path):
    from tenantatlas.alerts.tests.receivers import WebhookReceiver

    conn, rule, _channel = desk
    settings.ALERTS_READ_TIMEOUT = 0.5
    webhook.answer(204, delay=2)  # slower than the read timeout
    # The same test CA as the first receiver (its directory), so one trust file covers both.
    with WebhookReceiver(tmp_path / "webhook-pki", secret="second-receiver-secret-value") as other:
        second = AlertChannel.objects.create(
            workspace=acme, name="Second", kind=ChannelKind.WEBHOOK, url=other.url,
            secret_ciphertext=seal(other.secret),
        )  # fmt: skip
        rule.channels.add(second)
        _event(acme, conn)
        outcomes = {
            d.channel.name: deliver(d.pk) for d in AlertDelivery.objects.select_related("channel")
        }
    assert outcomes == {
        "Service desk hook": DeliveryStatus.PENDING,
        "Second": DeliveryStatus.DELIVERED,
    }
    slow = AlertDelivery.objects.get(channel__name="Service desk hook")
    assert "alert.timeout" in slow.last_error


def test_the_sweeper_resends_what_a_killed_worker_left_sending(acme, desk, webhook, settings):
    conn, _rule, _channel = desk
    _event(acme, conn)
    delivery = AlertDelivery.objects.get()
    now = timezone.now()
    assert claim(delivery.pk, now) == 1  # a worker claimed it, then died before recording
    assert sweep(now) == {"deliveries_resent": 0}  # its lease still runs
    # The lease runs out (as if ALERT_LEASE_SECONDS had passed).
    AlertDelivery.objects.filter(pk=delivery.pk).update(lease_until=now - dt.timedelta(seconds=1))
    assert sweep(timezone.now()) == {"deliveries_resent": 1}
    assert deliver(delivery.pk) == DeliveryStatus.DELIVERED
    delivery.refresh_from_db()
    assert delivery.attempts == 2
    # The dead worker's late outcome changes nothing: its claim (attempt 1) is gone.
    from tenantatlas.alerts.delivery import SendResult, record

    assert record(delivery, 1, SendResult(ok=False, error="late")) is None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.DELIVERED


def test_an_event_happens_once_per_key(acme, desk):
    conn, _rule, _channel = desk
    assert _event(acme, conn, key="run:9") is not None
    assert _event(acme, conn, key="run:9") is None
    assert AlertEvent.objects.count() == AlertDelivery.objects.count() == 1


def test_rules_match_on_severity_and_scope(acme, alice, desk):
    conn, rule, _channel = desk
    other = make_connection(
        acme, alice, name="Fabrikam", entra_tenant_id="22222222-2222-4222-8222-222222222222"
    )
    rule.min_severity = Severity.CRITICAL
    rule.all_connections = False
    rule.save()
    rule.connections.set([conn])
    _event(acme, conn, key="a", severity=Severity.WARNING)
    _event(acme, other, key="b", severity=Severity.CRITICAL)
    _event(acme, conn, key="c", severity=Severity.CRITICAL)
    assert list(AlertDelivery.objects.values_list("alerts__event__key", flat=True)) == ["c"]


def test_nothing_is_stored_when_no_rule_listens(acme, alice):
    conn = make_connection(acme, alice)
    AlertRule.objects.filter(workspace=acme).delete()
    assert _event(acme, conn) is None
    assert not AlertEvent.objects.exists()


def test_a_digest_sends_the_windows_alerts_in_one_delivery_after_it_ends(acme, desk, webhook):
    from tenantatlas.alerts.services import send_due_digests

    conn, rule, _channel = desk
    rule.digest = "hourly"
    rule.save()
    start = timezone.now().replace(minute=5, second=0, microsecond=0)
    for n in range(3):
        _event(acme, conn, key=f"run:{n}", occurred_at=start + dt.timedelta(minutes=n))
    assert not AlertDelivery.objects.exists()
    window_end = start.replace(minute=0) + dt.timedelta(hours=1)
    assert send_due_digests(window_end - dt.timedelta(seconds=1)) == 0
    assert send_due_digests(window_end) == 1
    assert send_due_digests(window_end) == 0  # once
    deliver_due()
    [request] = webhook.received
    assert [a["title"] for a in request.json()["alerts"]] == ["Inventory sync failed: Contoso"] * 3


def test_in_app_delivery_is_exactly_once_even_when_handed_out_twice(acme, alice, maggie):
    conn = make_connection(acme, alice)
    _event(acme, conn)
    in_app = AlertDelivery.objects.get(channel__kind=ChannelKind.IN_APP)
    assert deliver(in_app.pk) == DeliveryStatus.DELIVERED
    assert deliver(in_app.pk) is None
    assert Notification.objects.filter(kind="alert").count() == 2  # alice and maggie, once each


def test_retention_forgets_old_finished_deliveries_and_events_but_keeps_open_ones(
    acme, alice, settings
):
    from tenantatlas.alerts.ticks import prune

    settings.ALERT_RETENTION_DAYS = 30
    conn = make_connection(acme, alice)
    old = timezone.now() - dt.timedelta(days=31)
    _event(acme, conn, key="old-done", occurred_at=old)
    _event(acme, conn, key="old-open", occurred_at=old)
    _event(acme, conn, key="new", occurred_at=timezone.now())
    AlertDelivery.objects.update(created_at=old)
    AlertDelivery.objects.filter(alerts__event__key="old-done").update(
        status=DeliveryStatus.DELIVERED
    )
    AlertDelivery.objects.filter(alerts__event__key="new").update(
        status=DeliveryStatus.DELIVERED, created_at=timezone.now()
    )
    assert prune(timezone.now()) == 2 + 1  # two deliveries (in-app, e-mail) and their event
    assert set(AlertEvent.objects.values_list("key", flat=True)) == {"old-open", "new"}
    assert AlertDelivery.objects.count() == 4


def test_a_secret_echoed_into_an_error_is_redacted_before_it_is_stored(acme, alice, monkeypatch):
    from tenantatlas.alerts import channels
    from tenantatlas.alerts.addresses import OutboundError

    url = (
        "https://prod-01.westeurope.logic.azure.com/workflows/abc/triggers?sig=SIGNATURE-"
        + "s" * 30
    )
    channel = AlertChannel.objects.create(
        workspace=acme, name="Teams", kind=ChannelKind.TEAMS, secret_ciphertext=seal(url)
    )
    rule = AlertRule.objects.get(workspace=acme, event_kind=EventKind.RUN_FAILED)
    rule.channels.set([channel])

    def echoing_post(target, body, headers, policy):
        raise OutboundError("alert.connect_failed", f"Could not reach {target}")

    monkeypatch.setattr(channels, "post", echoing_post)
    _event(acme, make_connection(acme, alice))
    assert deliver_due() == [DeliveryStatus.PENDING]
    stored = AlertDelivery.objects.get().last_error
    assert "Could not reach" in stored
    assert "SIGNATURE" not in stored
    channel.refresh_from_db()


def test_a_worker_takes_an_alert_before_the_runs_queued_ahead_of_it(
    acme, alice, desk, django_capture_on_commit_callbacks
):
    # B7 (docs/performance.md): behind a burst of 200 connection checks, which share the
    # interactive queue with alert deliveries, an alert waited 35-60 s for its turn.
    from django.conf import settings

    from tenantatlas.operations.management.commands.worker import RunQueueWorker
    from tenantatlas.operations.services import start_operation

    conn, _rule, _channel = desk
    other = make_connection(
        acme, alice, name="Fabrikam", entra_tenant_id="22222222-2222-4222-8222-222222222222"
    )
    with django_capture_on_commit_callbacks(execute=True):
        start_operation(
            actor=alice, member=None, connection=other, operation_type="provider.health_check"
        )
    with django_capture_on_commit_callbacks(execute=True):
        _event(acme, conn)
    worker = RunQueueWorker(
        queue_names=list(settings.TASK_QUEUES), interval=0, batch=True, backend_name="default",
        startup_delay=False, max_tasks=None, worker_id="test", excluded_queue_names=[],
    )  # fmt: skip
    first, _answered = worker.claim_next()
    assert first is not None
    assert first.task_path == "tenantatlas.alerts.delivery.deliver_alert"
