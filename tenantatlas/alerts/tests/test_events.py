"""Each event kind, raised by the domain that owns its data: health, expiry, staleness,
compliance, changes."""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from tenantatlas.alerts.models import AlertEvent, AlertRule, EventKind, Severity
from tenantatlas.alerts.ticks import tick
from tenantatlas.inventory.models import TenantSummary
from tenantatlas.inventory.observed import SeenBy
from tenantatlas.inventory.summaries import note_snapshot, record_sync_summary
from tenantatlas.operations.tests.factories import make_change, make_item, make_run, make_snapshot
from tenantatlas.providers.alert_events import expiry_threshold, scan_credential_expiry
from tenantatlas.providers.health_result import HealthResult
from tenantatlas.providers.models import Health
from tenantatlas.providers.services.health import record_health
from tenantatlas.testing import make_connection


def _rule(workspace, kind: str, **fields) -> AlertRule:
    fields.setdefault("min_severity", Severity.INFO)
    return AlertRule.objects.create(
        workspace=workspace, name=f"rule {kind}", event_kind=kind, **fields
    )


def _expiring(conn, expires_at: dt.datetime):
    conn.credentials.update(expires_at=expires_at)
    return conn


def test_health_turning_bad_and_recovering_are_events_with_the_troubles_severity(acme, alice):
    conn = make_connection(acme, alice, name="Contoso")
    record_health(connection=conn, result=HealthResult(health=Health.HEALTHY))
    assert not AlertEvent.objects.exists()  # unknown → healthy is nothing to tell

    record_health(
        connection=conn,
        result=HealthResult.of_failed_run("graph.permission_denied", "Forbidden"),
    )
    record_health(connection=conn, result=HealthResult.of_failed_run("graph.timeout", "again"))
    record_health(connection=conn, result=HealthResult(health=Health.HEALTHY))

    events = list(AlertEvent.objects.order_by("pk"))
    assert [(e.facts["state"], e.severity) for e in events] == [
        ("troubled", Severity.CRITICAL),
        ("recovered", Severity.CRITICAL),
    ]  # unhealthy → unhealthy again is no new event
    assert events[0].title == "Connection unhealthy: Contoso"
    assert "Permission" in events[0].body
    assert events[0].path == f"/w/acme/connections/{conn.pk}/"


def test_credential_expiry_is_announced_once_per_threshold_it_reaches(acme, alice):
    now = timezone.now()
    conn = _expiring(make_connection(acme, alice, name="Contoso"), now + dt.timedelta(days=45))
    assert scan_credential_expiry(now) == 1  # 60 days
    assert scan_credential_expiry(now) == 0
    assert scan_credential_expiry(now + dt.timedelta(days=40)) == 1  # 5 days left: the 7-day one
    assert scan_credential_expiry(now + dt.timedelta(days=44, hours=1)) == 1  # within a day
    assert scan_credential_expiry(now + dt.timedelta(days=46)) == 1  # expired
    assert scan_credential_expiry(now + dt.timedelta(days=47)) == 0
    keys = list(AlertEvent.objects.order_by("pk").values_list("key", flat=True))
    credential = conn.current_credential
    assert keys == [f"credential:{credential.pk}:{d}d" for d in (60, 7, 1, 0)]
    assert AlertEvent.objects.get(key__endswith=":0d").title == "Credential expired: Contoso"


def test_expiry_thresholds():
    now = timezone.now()
    assert expiry_threshold(now + dt.timedelta(days=61), now) is None
    assert expiry_threshold(now + dt.timedelta(days=60), now) == 60
    assert expiry_threshold(now + dt.timedelta(days=29), now) == 30
    assert expiry_threshold(now + dt.timedelta(hours=23), now) == 1
    assert expiry_threshold(now, now) == 0


def test_a_disabled_connections_credential_is_not_announced(acme, alice):
    from tenantatlas.providers.models import ConnectionStatus

    now = timezone.now()
    conn = _expiring(make_connection(acme, alice), now + dt.timedelta(days=3))
    conn.status = ConnectionStatus.DISABLED
    conn.save()
    assert scan_credential_expiry(now) == 0


def test_stale_data_follows_each_rules_hours_once_per_spell(acme, alice):
    now = timezone.now()
    conn = make_connection(acme, alice, name="Contoso")
    type(conn).objects.filter(pk=conn.pk).update(created_at=now - dt.timedelta(days=10))
    _rule(acme, EventKind.DATA_STALE, params={"hours": 12})
    TenantSummary.objects.create(
        workspace=acme,
        connection=conn,
        last_sync_at=now - dt.timedelta(hours=13),
        last_snapshot_at=now - dt.timedelta(hours=1),
    )
    assert tick(now)["alert_events"] == 1
    assert tick(now)["alert_events"] == 0
    event = AlertEvent.objects.get()
    assert event.title == "No successful inventory sync for 12 h: Contoso"
    # A new success ends the spell; the next time it grows old is a new event.
    TenantSummary.objects.filter(connection=conn).update(last_sync_at=now)
    assert tick(now + dt.timedelta(hours=1))["alert_events"] == 0
    assert tick(now + dt.timedelta(hours=13))["alert_events"] == 2  # the snapshot too, by then


def test_compliance_rules_alert_above_a_share_or_on_a_rise(acme, alice):
    conn = make_connection(acme, alice, name="Contoso")
    above = _rule(acme, EventKind.COMPLIANCE, params={"share_above": 20})
    rise = AlertRule.objects.create(
        workspace=acme, name="rise", event_kind=EventKind.COMPLIANCE, params={"points_up": 5}
    )
    for noncompliant in (10, 25, 27, 40):
        note_snapshot(
            make_snapshot(acme, conn, compliant=100 - noncompliant, noncompliant=noncompliant)
        )
    alerted = {
        rule.name: [a.event.facts["noncompliant_share"] for a in rule.alerts.order_by("pk")]
        for rule in (above, rise)
    }
    # Above 20 %: when it crosses (25), not again while above; up by 5 points: 10→25, 27→40.
    assert alerted == {above.name: [25.0], "rise": [25.0, 40.0]}


def test_a_syncs_changes_alert_the_rules_that_want_their_kinds(acme, alice):
    conn = make_connection(acme, alice, name="Contoso")
    policies = _rule(acme, EventKind.CHANGES, params={"kinds": ["device_compliance_policy"]})
    devices = AlertRule.objects.create(
        workspace=acme,
        name="devices",
        event_kind=EventKind.CHANGES,
        min_severity=Severity.INFO,
        params={"kinds": ["managed_device"]},
    )
    run = make_run(acme, conn, status="running")
    item = make_item(acme, conn, kind="device_compliance_policy", display_name="Baseline")
    make_change(item, run=run)
    make_change(item, run=run)
    record_sync_summary(SeenBy(acme.pk, conn.pk, run.pk), status="succeeded")

    event = AlertEvent.objects.get(kind=EventKind.CHANGES)
    assert event.facts["changes_by_kind"] == {"device_compliance_policy": 2}
    assert event.title == "2 inventory changes: Contoso"
    assert event.path == f"/w/acme/changes/?run={run.pk}"
    assert policies.alerts.count() == 1
    assert devices.alerts.count() == 0
