"""Notifications: only my own, the bell count, mark read, mark all read, `notify`."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection as db
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from tenantatlas.notifications.models import Notification
from tenantatlas.notifications.services import mark_all_read, mark_read, notify
from tenantatlas.testing import KNOWN_SECRET, client_for


def note(
    user: Any, workspace: Any, title: str = "Inventory sync succeeded", **fields: Any
) -> Notification:
    fields.setdefault("kind", "operation.completed")
    return Notification.objects.create(user=user, workspace=workspace, title=title, **fields)


def list_url(slug: str = "acme") -> str:
    return reverse("notifications:list", args=[slug])


def read_url(n: Notification, slug: str = "acme") -> str:
    return reverse("notifications:read", args=[slug, n.pk])


def test_it_lists_only_my_notifications_in_this_workspace_newest_first(
    cast: Any, acme: Any, globex: Any
) -> None:
    first = note(cast["alice"], acme, "First")
    second = note(cast["alice"], acme, "Second")
    note(cast["bob"], acme, "Bob's own")
    note(cast["mallory"], globex, "Mallory's own")

    response = client_for(cast["alice"]).get(list_url())

    assert response.status_code == 200
    assert [n.pk for n in response.context["page"].items] == [second.pk, first.pk]
    body = response.content.decode()
    assert "Bob&#x27;s own" not in body
    assert "Bob's own" not in body
    assert "Mallory" not in body
    assert 'class="unread"' in body


def test_it_answers_404_for_someone_elses_notification(cast: Any, acme: Any, globex: Any) -> None:
    bobs = note(cast["bob"], acme)
    mallorys = note(cast["mallory"], globex)
    client = client_for(cast["alice"])

    assert client.post(read_url(bobs)).status_code == 404
    assert client.post(read_url(mallorys)).status_code == 404
    assert client.post(read_url(mallorys, "globex")).status_code == 404
    assert client_for(cast["mallory"]).get(list_url("acme")).status_code == 404
    assert Notification.objects.filter(read_at__isnull=False).count() == 0


def test_it_marks_one_read(alice: Any, acme: Any) -> None:
    n = note(alice, acme)
    other = note(alice, acme, "Other")

    response = client_for(alice).post(read_url(n))

    assert response.status_code == 302
    n.refresh_from_db()
    other.refresh_from_db()
    assert n.read_at is not None
    assert other.read_at is None


def test_it_answers_htmx_with_the_updated_row(alice: Any, acme: Any) -> None:
    n = note(alice, acme)

    response = client_for(alice).post(read_url(n), HTTP_HX_REQUEST="true")

    body = response.content.decode().strip()
    assert response.status_code == 200
    assert body.startswith(f'<tr id="notification-{n.pk}" class="read"')
    assert "Mark read" not in body


def test_it_opens_the_link_after_marking_read(alice: Any, acme: Any) -> None:
    n = note(alice, acme, url="/w/acme/runs/1/")

    response = client_for(alice).post(read_url(n), {"open": "1"})

    assert response.status_code == 302
    assert response["Location"] == "/w/acme/runs/1/"
    n.refresh_from_db()
    assert n.read_at is not None


def test_it_marks_all_of_mine_read_and_nobody_elses(cast: Any, acme: Any, globex: Any) -> None:
    for _ in range(3):
        note(cast["alice"], acme)
    bobs = note(cast["bob"], acme)
    elsewhere = note(cast["alice"], globex)

    response = client_for(cast["alice"]).post(reverse("notifications:read_all", args=["acme"]))

    assert response.status_code == 302
    assert (
        Notification.objects.filter(
            user=cast["alice"], workspace=acme, read_at__isnull=True
        ).count()
        == 0
    )
    bobs.refresh_from_db()
    elsewhere.refresh_from_db()
    assert bobs.read_at is None
    assert elsewhere.read_at is None


def test_it_refuses_get_on_the_mark_read_routes(alice: Any, acme: Any) -> None:
    n = note(alice, acme)
    client = client_for(alice)

    assert client.get(read_url(n)).status_code == 405
    assert client.get(reverse("notifications:read_all", args=["acme"])).status_code == 405


def test_it_shows_the_unread_count_on_the_bell(cast: Any, acme: Any, globex: Any) -> None:
    note(cast["alice"], acme)
    note(cast["alice"], acme)
    note(cast["alice"], acme, read_at="2026-01-01T00:00:00Z")
    note(cast["bob"], acme)
    note(cast["alice"], globex)

    page = client_for(cast["alice"]).get(reverse("providers:list", args=["acme"])).content.decode()
    bell = client_for(cast["alice"]).get(reverse("notifications:bell", args=["acme"]))

    assert 'data-unread="2"' in page
    assert 'hx-get="/w/acme/notifications/bell/"' in page
    assert 'href="/w/acme/notifications/"' in page
    assert bell.status_code == 200
    assert 'data-unread="2"' in bell.content.decode()
    assert 'hx-trigger="every 10s"' in bell.content.decode()


def test_it_counts_the_bell_in_one_query(alice: Any, acme: Any) -> None:
    for _ in range(5):
        note(alice, acme)
    client = client_for(alice)
    client.get(reverse("notifications:bell", args=["acme"]))  # warm the session

    with CaptureQueriesContext(db) as ctx:
        client.get(reverse("notifications:bell", args=["acme"]))

    notification_queries = [
        q for q in ctx.captured_queries if "notifications_notification" in q["sql"]
    ]
    assert len(notification_queries) == 1
    assert "COUNT" in notification_queries[0]["sql"].upper()


def test_it_hides_the_bell_count_when_all_are_read(alice: Any, acme: Any) -> None:
    note(alice, acme, read_at="2026-01-01T00:00:00Z")

    bell = client_for(alice).get(reverse("notifications:bell", args=["acme"])).content.decode()

    assert "data-unread" not in bell
    assert "0 unread" in bell


@pytest.mark.parametrize(
    "url", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)", "/w/acme/runs/7/"]
)
def test_it_notifies_with_sanitized_text_and_local_links_only(
    alice: Any, acme: Any, url: str
) -> None:
    n = notify(
        user=alice,
        workspace=acme,
        kind="operation.completed",
        title="Inventory sync failed",
        body=f"client_secret={KNOWN_SECRET} was rejected; Bearer eyJhbGciOi.eyJzdWIiOi.sig",
        url=url,
    )

    n.refresh_from_db()
    assert n.read_at is None
    assert n.title == "Inventory sync failed"
    assert KNOWN_SECRET not in n.body
    assert "eyJhbGciOi.eyJzdWIiOi.sig" not in n.body
    assert n.url == (url if url.startswith("/w/") else "")


def test_it_truncates_long_titles(alice: Any, acme: Any) -> None:
    n = notify(user=alice, workspace=acme, kind="x", title="t" * 500, body="b" * 5000, url="")

    assert len(n.title) <= 200
    assert len(n.body) <= 1000


def test_it_marks_read_through_the_services_only_for_the_owner(cast: Any, acme: Any) -> None:
    n = note(cast["alice"], acme)

    assert mark_read(actor=cast["bob"], notification=n) is False
    assert mark_read(actor=cast["alice"], notification=n) is True
    assert mark_read(actor=cast["alice"], notification=n) is False
    assert mark_all_read(actor=cast["alice"], workspace=acme) == 0


def test_it_escapes_notification_text(alice: Any, acme: Any) -> None:
    note(alice, acme, title="<img src=x onerror=alert(1)>", body="<b>bold</b>")

    body = client_for(alice).get(list_url()).content.decode()

    assert "<img src=x" not in body
    assert "&lt;img src=x onerror=alert(1)&gt;" in body
    assert "&lt;b&gt;bold&lt;/b&gt;" in body
