"""The add-connection form lists the Graph application permissions the contracts need, with an
app-manifest snippet holding Microsoft's app-role id of each."""

from __future__ import annotations

import html
import json
import re
import uuid
from pathlib import Path
from typing import Any

from django.conf import settings
from django.urls import reverse

from tenantatlas.graph.contracts import CONTRACTS
from tenantatlas.providers.microsoft.health import permission_gaps
from tenantatlas.providers.permissions import (
    GRAPH_APP_ROLE_IDS,
    GRAPH_RESOURCE_APP_ID,
    manifest_snippet,
    needed_permissions,
)
from tenantatlas.testing import client_for

DOC = Path(settings.BASE_DIR) / "docs" / "permissions.md"


def test_it_needs_what_the_connection_check_reports_missing_without_any_grant() -> None:
    missing, _ = permission_gaps([])
    assert [p.name for p in needed_permissions()] == missing


def test_it_needs_the_least_privileged_permission_of_every_contract() -> None:
    names = {p.name for p in needed_permissions()}
    for contract in CONTRACTS.values():
        assert names & set(contract.permissions), contract.key
        assert contract.permissions[0] in names


def test_every_needed_permission_has_an_app_role_id_documented_with_its_source() -> None:
    documented = dict(
        re.findall(r"^\| `([A-Za-z.]+)` \| `([0-9a-f-]{36})` \| .+\|$", DOC.read_text(), re.M)
    )
    for permission in needed_permissions():
        uuid.UUID(permission.app_role_id)
        assert documented.get(permission.name) == permission.app_role_id, permission.name
    assert len(set(GRAPH_APP_ROLE_IDS.values())) == len(GRAPH_APP_ROLE_IDS)


def test_the_manifest_snippet_requests_each_permission_as_an_application_role() -> None:
    snippet = json.loads(manifest_snippet())
    [graph] = snippet["requiredResourceAccess"]
    assert graph["resourceAppId"] == GRAPH_RESOURCE_APP_ID == "00000003-0000-0000-c000-000000000000"
    assert graph["resourceAccess"] == [
        {"id": GRAPH_APP_ROLE_IDS[p.name], "type": "Role"} for p in needed_permissions()
    ]


def test_the_create_form_lists_them_with_the_snippet_to_copy(acme: Any, maggie: Any) -> None:
    page = client_for(maggie).get(reverse("providers:create", args=["acme"])).text
    block = re.search(r'<article class="graph-permissions".*?</article>', page, re.S)
    assert block is not None
    for permission in needed_permissions():
        assert f"<code>{permission.name}</code>" in block.group(0)
    code = re.search(r'<code id="graph-manifest">(.*?)</code>', block.group(0), re.S)
    assert code is not None
    assert json.loads(html.unescape(code.group(1))) == json.loads(manifest_snippet())
    assert 'data-copy="graph-manifest" hidden' in block.group(0)  # shown by the script


def test_the_edit_form_does_not_repeat_them(acme: Any, alice: Any, contoso: Any) -> None:
    page = client_for(alice).get(reverse("providers:edit", args=["acme", contoso.pk])).text
    assert "graph-permissions" not in page


def test_the_documented_snippet_is_the_one_the_form_shows() -> None:
    documented = re.search(r"```json\n(.*?)\n```", DOC.read_text(), re.S)
    assert documented is not None
    assert documented.group(1) == manifest_snippet()
