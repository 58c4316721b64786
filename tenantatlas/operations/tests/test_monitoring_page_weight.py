"""Monitoring at scale: the connection menu of a big workspace fills itself on demand, and the
rows written in Python escape what they show."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.urls import reverse

from tenantatlas.operations import views
from tenantatlas.operations.forms import RunFilterForm
from tenantatlas.operations.templatetags.operations import choice_select
from tenantatlas.operations.tests.factories import make_run
from tenantatlas.testing import client_for

MENU = {"HTTP_HX_REQUEST": "true", "HTTP_HX_TARGET": views.MENU_ID}


def runs_url() -> str:
    return reverse("operations:runs", args=["acme"])


def menu_options(body: str) -> list[str]:
    select = re.search(r'<select name="connection".*?</select>', body, re.S)
    assert select, "no connection menu"
    return re.findall(r"<option[^>]*>[^<]*</option>", select.group(0))


def test_it_writes_a_short_connection_menu_into_the_page(
    alice: Any, contoso: Any, fabrikam: Any
) -> None:
    body = client_for(alice).get(runs_url()).content.decode()

    assert menu_options(body) == [
        '<option value="">Any connection</option>',
        f'<option value="{contoso.pk}">Contoso</option>',
        f'<option value="{fabrikam.pk}">Fabrikam</option>',
    ]
    assert "focus once" not in body


@pytest.fixture
def long_menu(monkeypatch: pytest.MonkeyPatch) -> None:
    """Two connections are "more than the page holds"."""
    monkeypatch.setattr(views, "MENU_IN_PAGE", 1)


def test_it_fills_a_long_connection_menu_when_first_pointed_at(
    alice: Any, contoso: Any, fabrikam: Any, long_menu: None
) -> None:
    client = client_for(alice)

    page = client.get(runs_url()).content.decode()
    filtered = client.get(runs_url(), {"connection": fabrikam.pk}).content.decode()
    menu = client.get(runs_url(), {"connection": fabrikam.pk}, **MENU)

    assert menu_options(page) == ['<option value="">Any connection</option>']
    assert 'hx-trigger="pointerenter once, focus once" hx-target="this"' in page
    assert menu_options(filtered) == [
        '<option value="">Any connection</option>',
        f'<option value="{fabrikam.pk}" selected>Fabrikam</option>',
    ]
    assert menu.status_code == 200
    assert menu.content.decode() == (
        '<option value="">Any connection</option>'
        f'<option value="{contoso.pk}">Contoso</option>'
        f'<option value="{fabrikam.pk}" selected>Fabrikam</option>'
    )
    assert "HX-Target" in menu["Vary"]


def test_it_keeps_the_menu_out_of_the_table_fragment(
    alice: Any, contoso: Any, fabrikam: Any
) -> None:
    make_run(contoso.workspace, contoso)

    table = client_for(alice).get(runs_url(), HTTP_HX_REQUEST="true").content.decode()

    assert table.lstrip().startswith('<div id="runs-table"')
    assert "<option" not in table


def test_it_escapes_what_a_row_shows(alice: Any, contoso: Any, fabrikam: Any) -> None:
    fabrikam.display_name = 'Fab<b>rikam"'
    fabrikam.save(update_fields=["display_name"])
    run = make_run(
        contoso.workspace,
        fabrikam,
        status="failed",
        reason_code="graph.throttled",
        failure_message='"><script>alert(1)</script>',
        requested_by_label="<i>eve</i>",
    )

    body = client_for(alice).get(runs_url()).content.decode()
    row = re.search(rf'<tr id="run-{run.pk}">.*?</tr>', body, re.S)

    assert row
    assert "<script>" not in row.group(0)
    assert "<i>" not in row.group(0)
    assert '<code title="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;">graph.throttled' in (
        row.group(0)
    )
    assert f'<a href="/w/acme/connections/{fabrikam.pk}/">Fab&lt;b&gt;rikam&quot;</a>' in (
        row.group(0)
    )
    assert "&lt;i&gt;eve&lt;/i&gt;" in row.group(0)
    assert f'<a href="/w/acme/runs/{run.pk}/">Inventory sync</a>' in row.group(0)


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"status": "failed"},
        {"status": "bogus", "finished": "7d"},
        {"operation_type": "inventory.sync"},
    ],
)
def test_it_writes_the_filter_menus_as_their_widgets_would(
    acme: Any, query: dict[str, str]
) -> None:
    form = RunFilterForm(query or None, workspace=acme)
    form.is_valid()

    for name in ("status", "operation_type", "finished"):
        widget = re.sub(r">\s+<", "><", str(form[name]))
        assert choice_select(form[name]) == widget
