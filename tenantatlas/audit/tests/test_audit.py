"""The audit log: filters, CSV export, who may read it, and that it only ever grows."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from typing import Any
from unittest import mock

import pytest
from django.urls import reverse

from tenantatlas.audit.models import AuditEvent
from tenantatlas.audit.services import record_event
from tenantatlas.audit.views import CSV_COLUMNS
from tenantatlas.lib import request_context
from tenantatlas.lib.actors import RUN_COMPLETION
from tenantatlas.testing import client_for, make_connection

DAY_1 = dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)
DAY_2 = dt.datetime(2026, 3, 2, 23, 59, tzinfo=dt.UTC)
DAY_3 = dt.datetime(2026, 3, 3, 0, 1, tzinfo=dt.UTC)


def log_url(workspace: Any, **query: str) -> str:
    return reverse("audit:log", kwargs={"slug": workspace.slug}) + _query(query)


def export_url(workspace: Any, **query: str) -> str:
    return reverse("audit:export", kwargs={"slug": workspace.slug}) + _query(query)


def _query(query: dict[str, str]) -> str:
    from urllib.parse import urlencode

    return "?" + urlencode(query) if query else ""


def event_at(when: dt.datetime, **kwargs: Any) -> AuditEvent:
    with mock.patch("django.utils.timezone.now", return_value=when):
        return record_event(**kwargs)


def listed(response: Any) -> list[str]:
    """Actions in the rendered table, top to bottom."""
    import re

    return re.findall(r"<td><code>([^<]+)</code></td>", response.content.decode())


def exported(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


@pytest.fixture
def history(alice: Any, maggie: Any, acme: Any, mallory: Any, globex: Any) -> dict[str, AuditEvent]:
    """A small audit history across three days, plus Globex's own events."""
    return {
        "created": event_at(
            DAY_1, workspace=acme, actor=alice, action="connection.created", target=acme
        ),
        "rotated": event_at(
            DAY_2, workspace=acme, actor=maggie, action="credential.rotated", target=acme
        ),
        "member": event_at(
            DAY_2, workspace=acme, actor=alice, action="member.added", metadata={"user": "bob"}
        ),
        "deleted": event_at(
            DAY_3, workspace=acme, actor=maggie, action="connection.deleted", target=acme
        ),
        "system": event_at(
            DAY_3, workspace=acme, actor=RUN_COMPLETION, action="connection.health_changed"
        ),
        "globex": event_at(
            DAY_2, workspace=globex, actor=mallory, action="connection.created", target=globex
        ),
    }


def test_it_lists_the_workspaces_events_newest_first(alice: Any, acme: Any, history: Any) -> None:
    response = client_for(alice).get(log_url(acme))

    assert response.status_code == 200
    assert listed(response) == [
        "connection.health_changed",
        "connection.deleted",
        "member.added",
        "credential.rotated",
        "connection.created",
    ]
    assert "mallory" not in response.content.decode()


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            {"action": "connection."},
            ["connection.health_changed", "connection.deleted", "connection.created"],
        ),
        ({"action": "connection.deleted"}, ["connection.deleted"]),
        ({"action": "credential"}, ["credential.rotated"]),
        ({"action": "nothing"}, []),
        ({"actor": "MAGG"}, ["connection.deleted", "credential.rotated"]),
        ({"actor": "system"}, ["connection.health_changed"]),
        (
            {"target_type": "workspace"},
            ["connection.deleted", "credential.rotated", "connection.created"],
        ),
        (
            {"since": "2026-03-02"},
            [
                "connection.health_changed",
                "connection.deleted",
                "member.added",
                "credential.rotated",
            ],
        ),
        ({"until": "2026-03-02"}, ["member.added", "credential.rotated", "connection.created"]),
        ({"since": "2026-03-02", "until": "2026-03-02"}, ["member.added", "credential.rotated"]),
        (
            {"action": "connection.", "actor": "alice", "until": "2026-03-01"},
            ["connection.created"],
        ),
    ],
)
def test_it_filters_by_action_prefix_actor_target_type_and_dates(
    query: dict[str, str], expected: list[str], alice: Any, acme: Any, history: Any
) -> None:
    assert listed(client_for(alice).get(log_url(acme, **query))) == expected


def test_it_says_when_a_filter_is_invalid(alice: Any, acme: Any, history: Any) -> None:
    response = client_for(alice).get(log_url(acme, since="yesterday"))

    assert response.status_code == 200
    assert "Some filters are invalid" in response.content.decode()


def test_it_pages_long_histories(alice: Any, acme: Any) -> None:
    for n in range(55):
        record_event(workspace=acme, actor=alice, action=f"test.event_{n:02d}")
    client = client_for(alice)

    first = listed(client.get(log_url(acme)))
    second = listed(client.get(log_url(acme, page="2")))

    assert len(first) == 50
    assert len(second) == 5
    assert first[0] == "test.event_54"
    assert second[-1] == "test.event_00"


def test_it_exports_csv_with_header_rows_and_an_attachment_name(
    alice: Any, acme: Any, history: Any
) -> None:
    response = client_for(alice).get(export_url(acme))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"] == 'attachment; filename="audit-acme.csv"'
    rows = exported(response)
    assert rows[0] == CSV_COLUMNS
    assert [r[CSV_COLUMNS.index("action")] for r in rows[1:]] == [
        "connection.health_changed",
        "connection.deleted",
        "member.added",
        "credential.rotated",
        "connection.created",
    ]
    created = rows[-1]
    assert created[CSV_COLUMNS.index("actor")] == "alice"
    assert created[CSV_COLUMNS.index("created_at")] == DAY_1.isoformat()
    assert created[CSV_COLUMNS.index("target_type")] == "workspace"
    assert created[CSV_COLUMNS.index("target_id")] == str(acme.pk)
    assert json.loads(rows[3][CSV_COLUMNS.index("metadata")]) == {"user": "bob"}


def test_it_applies_the_page_filters_to_the_export(alice: Any, acme: Any, history: Any) -> None:
    rows = exported(client_for(alice).get(export_url(acme, action="connection.", actor="maggie")))

    assert [r[CSV_COLUMNS.index("action")] for r in rows[1:]] == ["connection.deleted"]


def test_it_links_the_export_with_the_current_filters(alice: Any, acme: Any, history: Any) -> None:
    html = client_for(alice).get(log_url(acme, action="connection.", page="1")).content.decode()

    assert f'href="{export_url(acme)}?action=connection."' in html


@pytest.mark.parametrize(
    "name", ['=HYPERLINK("http://evil.example")', "+1+2", "-2+3", "@SUM(A1)", "\t=1"]
)
def test_it_neutralises_spreadsheet_formulas_in_the_export(
    name: str, alice: Any, acme: Any
) -> None:
    make_connection(acme, alice, name=name)

    rows = exported(client_for(alice).get(export_url(acme)))

    target = rows[1][CSV_COLUMNS.index("target")]
    assert target == "'" + name
    assert all(not cell.startswith(("=", "+", "-", "@", "\t")) for row in rows for cell in row)


def test_it_records_who_from_where_and_which_request(alice: Any, acme: Any) -> None:
    client_for(alice).post(
        reverse("members:list", kwargs={"slug": acme.slug}),
        {"user": "alice", "role": "readonly"},  # refused: already a member, writes nothing
    )
    context = request_context.RequestContext(request_id="req-12345678", ip="203.0.113.7", via="web")
    with request_context.bind(context):
        event = record_event(workspace=acme, actor=alice, action="test.context")

    assert AuditEvent.objects.count() == 1
    assert (event.ip, event.request_id, event.via, event.actor_label) == (
        "203.0.113.7",
        "req-12345678",
        "web",
        "alice",
    )


def test_it_fills_request_details_for_changes_made_through_pages(
    alice: Any, acme: Any, settings: Any
) -> None:
    settings.PROXY_HOPS = 1  # the request id set by a trusted proxy is kept
    client_for(alice).post(
        reverse("providers:create", kwargs={"slug": acme.slug}),
        {
            "display_name": "Contoso",
            "entra_tenant_id": "11111111-2222-3333-4444-555555555555",
            "cloud": "global",
            "client_id": "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
            "credential_kind": "client_secret",
            "client_secret": "page-secret-value",
        },
        HTTP_X_REQUEST_ID="trace-abcdef12",
    )

    event = AuditEvent.objects.get()
    assert (event.action, event.ip, event.request_id, event.via) == (
        "connection.created",
        "127.0.0.1",
        "trace-abcdef12",
        "web",
    )


def test_it_keeps_the_actor_label_when_the_user_is_deleted(alice: Any, bob: Any, acme: Any) -> None:
    event = record_event(workspace=acme, actor=bob, action="test.kept")

    bob.delete()

    event = AuditEvent.objects.get(pk=event.pk)
    assert event.actor is None
    assert event.actor_label == "bob"


@pytest.mark.parametrize(
    ("username", "status"), [("alice", 200), ("maggie", 200), ("bob", 403), ("vera", 403)]
)
def test_it_shows_the_log_and_export_to_audit_view_only(
    username: str, status: int, cast: dict[str, Any], acme: Any, history: Any
) -> None:
    client = client_for(cast[username])

    assert client.get(log_url(acme)).status_code == status
    assert client.get(export_url(acme)).status_code == status


def test_it_refuses_to_change_an_event(alice: Any, acme: Any, history: Any) -> None:
    event = history["created"]
    event.action = "connection.forged"

    with pytest.raises(TypeError, match="append-only"):
        event.save()
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.filter(pk=event.pk).update(action="connection.forged")

    assert AuditEvent.objects.get(pk=event.pk).action == "connection.created"


def test_it_refuses_to_delete_events(alice: Any, acme: Any, history: Any) -> None:
    count = AuditEvent.objects.count()

    with pytest.raises(TypeError, match="append-only"):
        history["created"].delete()
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.filter(workspace=acme).delete()
    with pytest.raises(TypeError, match="append-only"):
        AuditEvent.objects.for_workspace(acme).delete()

    assert AuditEvent.objects.count() == count


def test_it_sanitizes_metadata_before_storing_it(alice: Any, acme: Any) -> None:
    event = record_event(
        workspace=acme,
        actor=alice,
        action="test.sanitized",
        metadata={
            "client_secret": "s3cr3t-value-123",
            "note": "Authorization: Bearer abc.def.ghi",
            "credential_id": 7,
        },
    )

    stored = AuditEvent.objects.get(pk=event.pk).metadata
    assert stored["client_secret"] == "[redacted]"
    assert "abc.def.ghi" not in stored["note"]
    assert stored["credential_id"] == 7
