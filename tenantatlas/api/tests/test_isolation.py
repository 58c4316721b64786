"""API isolation matrix: every endpoint × every kind of caller, generated from endpoints.py.

Expected answers are derived from capabilities.py: no usable token → 401, a token of another
workspace addressing my objects → 404, a role without the capability → 403, else the row's
status. Refused requests change nothing, and no answer ever contains the connection secret.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from django.utils import timezone

from tenantatlas.accounts.models import ApiToken
from tenantatlas.accounts.services import revoke_api_token
from tenantatlas.api.api import api
from tenantatlas.api.tests.conftest import ApiClient, token_for
from tenantatlas.api.tests.endpoints import ENDPOINTS, OBJECTS, Endpoint
from tenantatlas.audit.models import AuditEvent
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.testing import KNOWN_SECRET
from tenantatlas.workspaces.capabilities import capabilities_of
from tenantatlas.workspaces.models import Role

ROLES = {
    "owner": ("alice", Role.OWNER),
    "manager": ("maggie", Role.MANAGER),
    "operator": ("bob", Role.OPERATOR),
    "readonly": ("vera", Role.READONLY),
}
UNAUTHENTICATED = [
    "no token",
    "malformed token",
    "wrong scheme",
    "unknown token",
    "revoked token",
    "expired token",
]
CALLERS = [*UNAUTHENTICATED, "outsider", *ROLES]


def _authorization(caller: str, cast: dict[str, Any]) -> str | None:
    """The Authorization header value the caller sends."""
    alice = cast["alice"]
    if caller == "no token":
        return None
    if caller == "malformed token":
        return "Bearer ta_not-a-token"
    if caller == "wrong scheme":
        return f"Basic {token_for(alice)}"
    if caller == "unknown token":
        return "Bearer ta_abcdefgh_" + "A" * 40
    if caller == "revoked token":
        plaintext = token_for(alice)
        revoke_api_token(actor=alice, token=ApiToken.objects.get(prefix=plaintext[3:11]))
        return f"Bearer {plaintext}"
    if caller == "expired token":
        plaintext = token_for(alice, expires_at=timezone.now() + dt.timedelta(days=1))
        ApiToken.objects.filter(prefix=plaintext[3:11]).update(
            expires_at=timezone.now() - dt.timedelta(seconds=1)
        )
        return f"Bearer {plaintext}"
    if caller == "outsider":
        return f"Bearer {token_for(cast['mallory'])}"
    return f"Bearer {token_for(cast[ROLES[caller][0]])}"


def expected_status(endpoint: Endpoint, caller: str) -> int:
    if caller in UNAUTHENTICATED:
        return 401
    if caller == "outsider":
        return 404 if (endpoint.obj or endpoint.body_obj) else endpoint.ok
    if endpoint.capability is not None and endpoint.capability not in capabilities_of(
        ROLES[caller][1]
    ):
        return 403
    return endpoint.ok


def _state() -> tuple[int, int]:
    return AuditEvent.objects.count(), ProviderConnection.objects.live().count()


def _call(authorization: str | None, method: str, path: str, body: Any) -> Any:
    client = ApiClient()
    headers = {"Authorization": authorization} if authorization else {}
    url = f"/api/v1{path}"
    if body is None:
        return client.generic(method, url, headers=headers)
    return client.generic(
        method, url, data=json.dumps(body), content_type="application/json", headers=headers
    )


@pytest.mark.parametrize(
    ("endpoint", "caller"),
    [pytest.param(e, c, id=f"{e.id}-{c}") for e in ENDPOINTS for c in CALLERS],
)
def test_it_answers_every_caller_as_the_capability_map_says(
    endpoint: Endpoint, caller: str, cast: dict[str, Any], acme: Any
) -> None:
    authorization = _authorization(caller, cast)
    requester = cast[ROLES[caller][0]] if caller in ROLES else cast["alice"]
    kind = endpoint.obj or endpoint.body_obj
    pk = OBJECTS[kind](acme, requester) if kind else None
    if endpoint.prepare is not None:
        endpoint.prepare()
    method, path, body = endpoint.request(pk)
    before = _state()

    response = _call(authorization, method, path, body)

    expected = expected_status(endpoint, caller)
    assert response.status_code == expected, response.content[:500]
    assert KNOWN_SECRET.encode() not in response.content
    if expected >= 400:
        assert response.json()["error"].keys() >= {"code", "message"}
        assert _state() == before, "a refused request changed data"
    if expected == 401:
        assert response["WWW-Authenticate"].startswith("Bearer")
    if caller == "outsider":
        assert b"Acme" not in response.content
        assert b"acme" not in response.content


@pytest.mark.parametrize(
    "endpoint", [pytest.param(e, id=e.id) for e in ENDPOINTS if e.obj or e.body_obj]
)
def test_it_hides_my_objects_from_the_other_workspace_and_theirs_from_me(
    endpoint: Endpoint, alice: Any, mallory: Any, acme: Any, globex: Any
) -> None:
    """The owner holds every capability, so only the workspace boundary can say no."""
    kind = endpoint.obj or endpoint.body_obj
    assert kind is not None
    OBJECTS[kind](acme, alice)
    theirs = OBJECTS[kind](globex, mallory)
    method, path, body = endpoint.request(theirs)
    authorization = f"Bearer {token_for(alice)}"
    before = _state()

    response = _call(authorization, method, path, body)

    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}
    assert _state() == before


@pytest.mark.parametrize("endpoint", [pytest.param(e, id=e.id) for e in ENDPOINTS if e.obj])
def test_it_answers_404_for_ids_that_do_not_exist(
    endpoint: Endpoint, alice: Any, acme: Any
) -> None:
    method, path, body = endpoint.request(987654321)

    response = _call(f"Bearer {token_for(alice)}", method, path, body)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_it_has_a_row_for_every_operation() -> None:
    document = api.get_openapi_schema(path_prefix="/api/v1/")
    documented = {(m.upper(), p) for p, methods in document["paths"].items() for m in methods}
    tabled = {(e.method, e.template) for e in ENDPOINTS}

    assert sorted(documented - tabled) == [], "add these operations to endpoints.ENDPOINTS"
    assert sorted(tabled - documented) == [], "endpoints.py names operations that do not exist"


def test_it_derives_every_kind_of_answer_from_the_table() -> None:
    """Guard against a matrix where every expectation is the same."""
    answers = {expected_status(e, c) for e in ENDPOINTS for c in CALLERS}

    assert {200, 201, 202, 204, 401, 403, 404} <= answers
