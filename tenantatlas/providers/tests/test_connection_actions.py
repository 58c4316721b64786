"""Actions menus list only what the person may do on that connection, and read correctly."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from tenantatlas.operations.registry import OPERATION_ACTIONS
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.providers.services.connections import set_connection_status
from tenantatlas.providers.tests.helpers import url
from tenantatlas.testing import client_for

OPERATIONS = [key for key, _ in OPERATION_ACTIONS]


def _menu(html: str, connection: ProviderConnection, page: str, user: Any = None) -> str | None:
    """The connection's actions menu on the list (its row; the items it fetches when it opens)
    or the detail page; None if absent."""
    if page == "list":
        row = re.search(rf'<tr id="connection-{connection.pk}".*?</tr>', html, re.S)
        assert row
        button = re.search(r'<details class="dropdown actions-menu" hx-get="([^"]+)"', row[0])
        if button is None:
            assert "actions-menu" not in row[0]
            return None
        assert button[1] == url("actions", connection.workspace, connection)
        items = client_for(user).get(button[1])
        assert items.status_code == 200
        return items.text
    menu = re.search(r'<details class="dropdown actions-menu">.*?</details>', html, re.S)
    return menu.group(0) if menu else None


def _page(user: Any, connection: ProviderConnection, page: str) -> str:
    target = (
        url("list", connection.workspace)
        if page == "list"
        else url("detail", connection.workspace, connection)
    )
    response = client_for(user).get(target)
    assert response.status_code == 200
    return response.text


def _actions(menu: str) -> list[str]:
    return re.findall(r'data-(?:operation|action)="([^"]+)"', menu)


PAGES = pytest.mark.parametrize("page", ["list", "detail"])


@PAGES
def test_a_readonly_member_gets_no_menu(contoso: Any, vera: Any, page: str) -> None:
    assert _menu(_page(vera, contoso, page), contoso, page, vera) is None


@PAGES
def test_an_operator_may_only_run_operations(contoso: Any, bob: Any, page: str) -> None:
    menu = _menu(_page(bob, contoso, page), contoso, page, bob)
    assert menu is not None
    assert _actions(menu) == OPERATIONS
    assert "Manage" not in menu
    assert "Delete" not in menu


@PAGES
def test_a_manager_may_run_and_manage(contoso: Any, fabrikam: Any, maggie: Any, page: str) -> None:
    menu = _menu(_page(maggie, fabrikam, page), fabrikam, page, maggie)
    assert menu is not None
    assert _actions(menu) == [*OPERATIONS, "edit", "set-default", "rotate", "disable", "delete"]


@PAGES
def test_a_disabled_connection_offers_enable_instead_of_operations(
    alice: Any, contoso: Any, fabrikam: Any, bob: Any, maggie: Any, page: str
) -> None:
    set_connection_status(actor=alice, connection=fabrikam, enabled=False, new_default=None)
    manager_menu = _menu(_page(maggie, fabrikam, page), fabrikam, page, maggie)
    assert manager_menu is not None
    assert _actions(manager_menu) == ["enable", "edit", "rotate", "delete"]
    assert reverse("providers:status", args=["acme", fabrikam.pk]) in manager_menu
    assert _menu(_page(bob, fabrikam, page), fabrikam, page, bob) is None  # nothing bob may do


def test_delete_reads_with_an_ellipsis_and_leads_to_the_confirm_page(
    contoso: Any, alice: Any
) -> None:
    menu = _menu(_page(alice, contoso, "list"), contoso, "list", alice)
    assert menu is not None
    delete = re.search(r'<a class="danger" href="([^"]+)" data-action="delete">([^<]+)</a>', menu)
    assert delete is not None
    assert delete.group(2) == "Delete\u2026"
    assert "dir=" not in menu  # a right-to-left list would show the ellipsis before the word
    confirm = client_for(alice).get(delete.group(1))
    assert confirm.status_code == 200
    assert "Delete “Contoso”?" in confirm.text
    assert "Delete connection" in confirm.text


def test_a_row_carries_its_menus_button_and_fetches_its_items_when_it_opens(
    contoso: Any, alice: Any, acme: Any
) -> None:
    html = _page(alice, contoso, "list")
    row = re.search(rf'<tr id="connection-{contoso.pk}".*?</tr>', html, re.S)
    assert row is not None
    assert "data-operation" not in row[0]  # the items are not on the list
    assert f'<a href="{url("detail", acme, contoso)}">Open the connection</a>' in row[0]
    assert 'hx-trigger="toggle once"' in row[0]


def test_the_menu_items_of_another_workspaces_connection_are_not_found(
    contoso: Any, alice: Any, acme: Any
) -> None:
    from tenantatlas.testing import make_connection
    from tenantatlas.workspaces.models import Workspace

    other = Workspace.objects.create(name="Other", slug="other")
    theirs = make_connection(other, alice, name="Theirs")
    response = client_for(alice).get(f"/w/acme/connections/{theirs.pk}/actions/")
    assert response.status_code == 404


def test_the_menus_script_is_served(contoso: Any, alice: Any) -> None:
    html = _page(alice, contoso, "list")
    assert '<script src="/static/js/connections.js" defer></script>' in html
