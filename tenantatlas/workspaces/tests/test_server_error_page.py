"""The 500 page: inside a workspace it keeps the navigation for members; it always renders.

The page must come up when the database is down or anything the full page needs fails: then it
is a minimal page that reads nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from django.db import OperationalError, connection
from django.http import HttpRequest, HttpResponse
from django.test import Client
from django.urls import path

from tenantatlas import urls as product
from tenantatlas.testing import client_for
from tenantatlas.workspaces.access import workspace_view
from tenantatlas.workspaces.capabilities import PROVIDER_VIEW
from tenantatlas.workspaces.models import Workspace


@workspace_view(PROVIDER_VIEW)
def _fails_in_workspace(request: HttpRequest) -> HttpResponse:
    raise RuntimeError("a defect in a workspace page")


def _fails(request: HttpRequest, slug: str) -> HttpResponse:
    raise RuntimeError("a defect before the workspace is known")


urlpatterns = [
    path("w/<slug:slug>/fails/", _fails_in_workspace),
    path("w/<slug:slug>/fails-early/", _fails),
    *product.urlpatterns,
]
handler500 = product.handler500


def _browser(user: Any | None) -> Client:
    client = client_for(user)
    client.raise_request_exception = False
    return client


def _database_down(execute: Callable[..., Any], sql: str, *args: Any) -> Any:
    raise OperationalError("connection to server failed: Connection refused")


@pytest.mark.urls(__name__)
def test_it_keeps_the_navigation_for_a_member(alice: Any, acme: Workspace) -> None:
    response = _browser(alice).get(f"/w/{acme.slug}/fails/")

    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in page
    assert 'class="app-sections"' in page
    assert acme.name in page


@pytest.mark.urls(__name__)
def test_it_keeps_the_navigation_when_the_view_failed_before_the_workspace_was_known(
    alice: Any, acme: Workspace
) -> None:
    response = _browser(alice).get(f"/w/{acme.slug}/fails-early/")

    assert response.status_code == 500
    assert 'class="app-sections"' in response.content.decode()


@pytest.mark.urls(__name__)
def test_it_tells_an_outsider_nothing_about_the_workspace(
    mallory: Any, alice: Any, acme: Workspace
) -> None:
    response = _browser(mallory).get(f"/w/{acme.slug}/fails-early/")

    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in page
    assert 'class="app-sections"' not in page
    assert acme.name not in page


@pytest.mark.urls(__name__)
def test_it_renders_a_minimal_page_when_the_database_is_down(alice: Any, acme: Workspace) -> None:
    browser = _browser(alice)

    with connection.execute_wrapper(_database_down):
        response = browser.get(f"/w/{acme.slug}/fails/")

    page = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong" in page
    assert acme.name not in page
    assert 'class="app-sections"' not in page


@pytest.mark.urls(__name__)
def test_it_renders_a_minimal_page_when_the_page_context_fails(
    alice: Any, acme: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whatever breaks while the full page renders, a person still gets an answer."""

    def broken_bell(*args: Any, **kwargs: Any) -> int:
        raise RuntimeError("the unread count failed")

    monkeypatch.setattr(
        "tenantatlas.notifications.templatetags.notifications.unread_count", broken_bell
    )

    response = _browser(alice).get(f"/w/{acme.slug}/fails/")

    assert response.status_code == 500
    assert "Something went wrong" in response.content.decode()
