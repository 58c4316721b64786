"""What a person reads when their run ends: product words, never internal keys.

"Inventory sync", not ``inventory.sync``; "Managed devices", not ``managed_device``; a reason code
only beside its human title and message.
"""

from __future__ import annotations

import re
from typing import Any

from tenantatlas.lib.reasons import get_reason
from tenantatlas.notifications.models import Notification
from tenantatlas.operations import listeners
from tenantatlas.operations.tests.factories import make_run

PARTIAL_SUMMARY = {
    "managed_device": {"error": "graph.permission_denied", "message": "Access denied for x"},
    "compliance_policy": {"seen": 4, "created": 4, "updated": 0, "removed": 0},
    "mobile_app": {"error": "graph.throttled", "message": "managed_apps.list: gave up"},
}
# An internal key: a dotted or snake_case identifier (``inventory.sync``, ``managed_device``).
INTERNAL_KEY = re.compile(r"\b[a-z]+(?:[._][a-z]+)+\b")


def notice_for(run: Any) -> Notification:
    listeners.notify_requester(sender=None, run=run)
    return Notification.objects.get(url__endswith=f"/runs/{run.pk}/")


def bare_keys(text: str) -> list[str]:
    """Internal keys not shown in parentheses beside their human words."""
    return [
        m.group() for m in INTERNAL_KEY.finditer(text) if text[m.start() - 1 : m.start()] != "("
    ]


def test_it_names_the_kinds_a_partial_sync_could_not_read(
    alice: Any, acme: Any, contoso: Any
) -> None:
    run = make_run(
        acme,
        contoso,
        requested_by=alice,
        status="partially_succeeded",
        summary_counts=PARTIAL_SUMMARY,
        reason_code="graph.permission_denied",
        failure_message="Some kinds could not be read: managed_device (graph.permission_denied), "
        "mobile_app (graph.throttled). Items of those kinds were kept as last observed.",
    )

    note = notice_for(run)

    assert note.title == "Inventory sync partially succeeded"
    assert "Managed devices" in note.body
    assert "Mobile apps" in note.body
    assert "Compliance policies" not in note.body  # read completely
    assert f"{get_reason('graph.permission_denied').title} (graph.permission_denied)" in note.body
    assert "managed_device" not in note.body
    assert "managed_apps.list" not in note.body
    assert bare_keys(note.title + " " + note.body) == []


def test_it_explains_a_failure_with_the_reason_catalog(alice: Any, acme: Any, contoso: Any) -> None:
    reason = get_reason("graph.permission_denied")
    run = make_run(
        acme,
        contoso,
        requested_by=alice,
        operation_type="compliance.snapshot",
        status="failed",
        reason_code=reason.code,
        failure_message="Access denied for managed_devices.list: the app needs one of "
        "DeviceManagementManagedDevices.Read.All",
    )

    note = notice_for(run)

    assert note.title == "Compliance snapshot failed"
    assert reason.title in note.body
    assert reason.message in note.body
    assert "managed_devices.list" not in note.body
    assert bare_keys(note.title + " " + note.body) == []


def test_it_says_plainly_that_a_run_succeeded(alice: Any, acme: Any, contoso: Any) -> None:
    run = make_run(acme, contoso, requested_by=alice, operation_type="provider.health_check")

    note = notice_for(run)

    assert note.title == "Connection check succeeded"
    assert note.body == "Connection check on “Contoso” succeeded."
