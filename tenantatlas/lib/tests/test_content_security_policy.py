"""Content-Security-Policy: every page sends the strict policy and carries nothing it would block.

The browser tests (tests/e2e/test_browser.py) prove Chromium sees no violation; these checks run
on every page of the route table without a browser: the header is there, exact, and the HTML
has no inline script, no event-handler attribute, no ``javascript:`` URL and no ``style``
attribute (any of which the policy would block).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tenantatlas.operations.tests.factories import make_snapshot
from tenantatlas.testing import client_for, make_connection
from tenantatlas.workspaces.tests.routes import GLOBAL_ROUTES, OBJECTS, WORKSPACE_ROUTES

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'self'",
}


def directives(response: Any) -> dict[str, str]:
    header = response.headers.get("Content-Security-Policy", "")
    parsed = (part.strip().partition(" ") for part in header.split(";") if part.strip())
    return {name: value.strip() for name, _, value in parsed}


class InlineCode(HTMLParser):
    """Collects what a strict policy refuses: inline scripts, handlers, javascript: URLs, styles,
    and htmx attributes that would evaluate code."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []
        self._in_inline_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "script" and "src" not in values and values.get("type") != "application/json":
            self._in_inline_script = True
        if tag == "style":
            self.found.append("<style> element")
        for name, value in attrs:
            if _refused(name, value or ""):
                self.found.append(f'<{tag} {name}="{value}">')

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_inline_script = False

    def handle_data(self, data: str) -> None:
        if self._in_inline_script and data.strip():
            self.found.append(f"inline <script>: {data.strip()[:60]}")


def _refused(name: str, value: str) -> bool:
    """An attribute the policy blocks, or that needs the eval htmx is configured without."""
    text = value.strip().lower()
    htmx = name.removeprefix("data-")
    if name.startswith("on") or name == "style":
        return True
    if name in {"href", "src", "action", "formaction"}:
        return text.startswith("javascript:")
    if htmx.startswith("hx-on") or htmx == "hx-vars":
        return True
    if htmx in {"hx-vals", "hx-headers"}:
        return text.startswith(("js:", "javascript:"))
    if htmx == "hx-trigger":  # an event filter: "keyup[ctrlKey]"; "from:input[name=q]" is CSS
        return any("[" in (spec.split() or [""])[0] for spec in value.split(","))
    return False


def inline_code(response: Any) -> list[str]:
    if not response["Content-Type"].startswith("text/html"):
        return []
    parser = InlineCode()
    parser.feed(response.content.decode())
    return parser.found


def assert_strict(response: Any) -> None:
    assert directives(response) == POLICY, response.headers.get("Content-Security-Policy")
    assert inline_code(response) == []


@pytest.mark.parametrize(
    "route", [pytest.param(r, id=r.id) for r in WORKSPACE_ROUTES if r.method == "GET"]
)
def test_it_sends_the_policy_on_every_workspace_page(route: Any, alice: Any, acme: Any) -> None:
    pk = OBJECTS[route.obj](acme, alice) if route.obj else None

    response = client_for(alice).get(route.url(acme, pk))

    assert response.status_code == route.ok
    assert_strict(response)


@pytest.mark.parametrize(
    "route", [pytest.param(r, id=r.id) for r in GLOBAL_ROUTES if r.method == "GET"]
)
def test_it_sends_the_policy_on_every_page_outside_workspaces(
    route: Any, alice: Any, acme: Any
) -> None:
    response = client_for(None if route.public else alice).get(route.url(alice))

    assert response.status_code in route.answers  # e.g. 404 for sign-in switched off
    assert_strict(response)


def test_it_sends_the_policy_on_error_pages_and_the_api_docs(alice: Any, acme: Any) -> None:
    client = client_for(alice)
    refused = Client(enforce_csrf_checks=True)

    pages = {
        "not found": client.get("/w/acme/no-such-page/"),
        "outsider": client.get("/w/no-such-workspace/connections/"),
        "csrf failure": refused.post(reverse("accounts:login"), {"username": "alice"}),
        "api docs": client.get("/api/v1/docs"),
    }

    assert [pages["not found"].status_code, pages["outsider"].status_code] == [404, 404]
    assert pages["csrf failure"].status_code == 403
    assert "Your browser did not send the form's security token" in (
        pages["csrf failure"].content.decode().replace("&#x27;", "'")
    )
    assert pages["api docs"].status_code == 200
    for name, response in pages.items():
        assert directives(response) == POLICY, name
        assert inline_code(response) == [], name


def test_it_draws_charts_and_icons_without_inline_styles(alice: Any, acme: Any) -> None:
    connection = make_connection(acme, alice)
    for days in (2, 1, 0):
        make_snapshot(
            acme,
            connection,
            compliant=10 + days,
            noncompliant=2,
            stale=1,
            taken_at=timezone.now() - dt.timedelta(days=days),
        )

    response = client_for(alice).get(reverse("inventory:compliance", args=[acme.slug]))

    body = response.content.decode()
    assert 'data-series="compliant"' in body
    assert 'id="notification-bell"' in body
    assert_strict(response)


def test_it_configures_htmx_to_need_no_eval_and_no_inline_style(alice: Any, acme: Any) -> None:
    body = client_for(alice).get(reverse("providers:list", args=[acme.slug])).content.decode()

    meta = re.search(r"<meta name=\"htmx-config\" content='([^']+)'>", body)
    assert meta is not None
    config = json.loads(meta.group(1))
    assert config["allowEval"] is False  # hx-on, hx-vars, js: values and trigger filters
    assert config["includeIndicatorStyles"] is False  # an inline <style> otherwise


@pytest.mark.parametrize(
    ("markup", "found"),
    [
        ('<p style="color: red">x</p>', True),
        ("<style>p { color: red }</style>", True),
        ("<script>alert(1)</script>", True),
        ('<script type="application/json">{"a": 1}</script>', False),
        ('<script src="/static/app.js"></script>', False),
        ('<a href="javascript:alert(1)">x</a>', True),
        ('<button onclick="go()">x</button>', True),
        ('<div hx-on:click="go()">x</div>', True),
        ('<div hx-vals="js:{a: 1}">x</div>', True),
        ('<input hx-trigger="keyup[ctrlKey]">', True),
        ('<form hx-trigger="change, keyup changed delay:400ms from:input[name=q]">', False),
        ('<svg><polygon fill="#1e7a3c" points="0,0 1,1"/></svg>', False),
    ],
)
def test_its_markup_check_can_fail(markup: str, found: bool) -> None:
    parser = InlineCode()
    parser.feed(markup)
    assert bool(parser.found) is found, parser.found
