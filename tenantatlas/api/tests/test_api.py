"""API behaviour: start semantics, the error envelope, write-only secrets, cursors, audit, OpenAPI."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tenantatlas.accounts.models import ApiToken
from tenantatlas.api.tests.conftest import ApiClient, token_for
from tenantatlas.api.tests.factories import make_run
from tenantatlas.audit.models import AuditEvent
from tenantatlas.operations.models import OperationRun, RunStatus
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.simulator.certs import make_test_certificate
from tenantatlas.testing import KNOWN_SECRET, make_connection
from tenantatlas.workspaces.capabilities import PROVIDER_RUN, PROVIDER_VIEW

TENANT = "0f0f0f0f-1111-4222-8333-444444444444"
CLIENT_ID = "5e5e5e5e-6666-4777-8888-999999999999"


def _secret(secret: str = KNOWN_SECRET) -> dict[str, Any]:
    return {"kind": "client_secret", "client_id": CLIENT_ID, "client_secret": secret}


def _key_lines(key_pem: str) -> list[str]:
    """Base64 lines of the private key: any one of them in a response is a leak."""
    return [line for line in key_pem.splitlines() if line and not line.startswith("-----")]


# -- start: 202 new, 200 deduplicated, 409 scope busy --------------------------------------------


def test_it_answers_202_with_the_new_run_then_200_with_the_same_run(alice: Any, acme: Any) -> None:
    connection = make_connection(acme, alice)
    client = ApiClient(token_for(alice))
    body = {"connection_id": connection.pk, "operation_type": "inventory.sync"}

    created = client.call("POST", "/runs", body)
    again = client.call("POST", "/runs", body)

    assert created.status_code == 202
    run = created.json()
    assert run["status"] == "queued"
    assert run["trigger"] == "api"
    assert run["operation_type"] == "inventory.sync"
    assert run["connection_id"] == connection.pk
    assert run["requested_by"] == "alice"
    assert again.status_code == 200
    assert again.json()["id"] == run["id"]
    assert OperationRun.objects.count() == 1


def test_it_answers_409_scope_busy_with_the_active_run(alice: Any, acme: Any) -> None:
    connection = make_connection(acme, alice)
    client = ApiClient(token_for(alice))
    first = client.call(
        "POST", "/runs", {"connection_id": connection.pk, "operation_type": "inventory.sync"}
    )

    busy = client.call(
        "POST", "/runs", {"connection_id": connection.pk, "operation_type": "compliance.snapshot"}
    )

    assert busy.status_code == 409
    error = busy.json()["error"]
    assert error["code"] == "scope_busy"
    assert "Inventory sync" in error["message"]
    assert error["active_run"]["id"] == first.json()["id"]
    assert error["active_run"]["status"] == "queued"
    assert OperationRun.objects.count() == 1


def test_it_refuses_to_start_on_a_disabled_connection(alice: Any, acme: Any) -> None:
    make_connection(acme, alice, name="Main")
    branch = make_connection(acme, alice, name="Branch", entra_tenant_id=TENANT)
    client = ApiClient(token_for(alice))
    assert client.call("POST", f"/connections/{branch.pk}/disable").json()["status"] == "disabled"

    refused = client.call(
        "POST", "/runs", {"connection_id": branch.pk, "operation_type": "inventory.sync"}
    )

    assert refused.status_code == 409
    assert refused.json()["error"]["code"] == "connection_disabled"
    assert not OperationRun.objects.exists()


def test_it_cancels_a_queued_run(alice: Any, acme: Any) -> None:
    run = make_run(make_connection(acme, alice), status=RunStatus.QUEUED)
    client = ApiClient(token_for(alice))

    cancelled = client.call("POST", f"/runs/{run.pk}/cancel")
    again = client.call("POST", f"/runs/{run.pk}/cancel")

    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    assert cancelled.json()["reason_code"] == "run.cancelled"
    assert again.status_code == 409
    assert again.json()["error"]["code"] == "run_finished"


# -- the error envelope ---------------------------------------------------------------------------


def _error(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["code"] == code
    assert body["error"]["message"]
    return dict(body["error"])


def test_every_kind_of_error_has_the_same_shape(alice: Any, vera: Any, acme: Any) -> None:
    default = make_connection(acme, alice)
    make_connection(acme, alice, name="Branch", entra_tenant_id=TENANT)
    owner = ApiClient(token_for(alice))

    _error(ApiClient().call("GET", "/connections"), 401, "unauthenticated")
    _error(
        ApiClient(token_for(vera)).call("POST", f"/connections/{default.pk}/default"),
        403,
        "forbidden",
    )
    _error(owner.call("GET", "/connections/424242"), 404, "not_found")
    _error(owner.call("GET", "/runs?status=exploded"), 400, "invalid")
    _error(owner.call("GET", "/runs?cursor=not-a-cursor"), 400, "invalid")
    _error(
        owner.call("POST", "/runs", {"connection_id": default.pk, "operation_type": "backup"}),
        400,
        "invalid",
    )
    refused = _error(owner.call("DELETE", f"/connections/{default.pk}"), 409, "default_required")
    assert "default" in refused["message"]
    duplicate = owner.call(
        "POST",
        "/connections",
        {"display_name": "Again", "entra_tenant_id": TENANT, "credential": _secret()},
    )
    assert _error(duplicate, 400, "duplicate_tenant")["field"] == "entra_tenant_id"
    unparsable = owner.generic(
        "POST", "/api/v1/runs", data="{nope", content_type="application/json"
    )
    _error(unparsable, 400, "invalid")


def test_it_names_the_field_of_a_validation_error(alice: Any) -> None:
    response = ApiClient(token_for(alice)).call(
        "POST",
        "/connections",
        {"display_name": "X", "entra_tenant_id": "not-a-guid", "credential": _secret()},
    )

    error = _error(response, 400, "invalid")
    assert error["field"] == "entra_tenant_id"
    assert error["message"].startswith("entra_tenant_id:")


def test_it_refuses_a_certificate_with_a_short_rsa_key(alice: Any, acme: Any) -> None:
    connection = make_connection(acme, alice)
    key_pem, cert_pem = make_test_certificate("short-key", key_size=1024)
    credential = {
        "kind": "certificate",
        "client_id": CLIENT_ID,
        "certificate_pem": cert_pem,
        "private_key_pem": key_pem,
    }

    response = ApiClient(token_for(alice)).call(
        "POST", f"/connections/{connection.pk}/credential", {"credential": credential}
    )

    error = _error(response, 400, "invalid_certificate")
    assert error["field"] == "credential.certificate_pem"
    assert "1024 bits" in error["message"]
    assert "at least 2048" in error["message"]
    assert connection.credentials.count() == 1


def test_an_unexpected_error_is_a_sanitized_500(
    alice: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tenantatlas.api.routers import connections

    def explode(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError(f"database said client_secret={KNOWN_SECRET}")

    monkeypatch.setattr(connections, "_connections", explode)
    response = ApiClient(token_for(alice)).call("GET", "/connections")

    error = _error(response, 500, "internal.error")
    assert KNOWN_SECRET not in response.content.decode()
    assert "request id" in error["message"]


# -- secrets are write-only -----------------------------------------------------------------------


def test_no_response_ever_contains_a_secret(alice: Any, acme: Any) -> None:
    """Create and rotate with canaries (a client secret, a private key), then read everything."""
    key_pem, cert_pem = make_test_certificate("canary")
    plaintext = token_for(alice)
    client = ApiClient(plaintext)
    responses = []

    def call(method: str, path: str, body: Any = None) -> Any:
        response = client.call(method, path, body)
        responses.append(response)
        return response

    created = call(
        "POST",
        "/connections",
        {"display_name": "Canary", "entra_tenant_id": TENANT, "credential": _secret()},
    )
    pk = created.json()["id"]
    certificate = {
        "kind": "certificate",
        "client_id": CLIENT_ID,
        "certificate_pem": cert_pem,
        "private_key_pem": key_pem,
    }
    rotated = call("POST", f"/connections/{pk}/credential", {"credential": certificate})
    call(
        "POST",
        f"/connections/{pk}/credential",
        {"credential": {**certificate, "certificate_pem": key_pem}},
    )
    call(
        "POST",
        f"/connections/{pk}/credential",
        {"credential": {**certificate, "private_key_pem": "x" + key_pem}},
    )
    call("PATCH", f"/connections/{pk}", {"credential": _secret("x" * 2000 + KNOWN_SECRET)})
    call("PATCH", f"/connections/{pk}", {"credential": {**_secret(), "kind": "password"}})
    call("PATCH", f"/connections/{pk}", {"credential": _secret(), "display_name": "Canary 2"})
    call("POST", "/runs", {"connection_id": pk, "operation_type": "provider.health_check"})
    for path in (
        "/me",
        "/connections",
        f"/connections/{pk}",
        "/runs",
        "/audit-events?limit=200",
        "/notifications",
    ):
        call("GET", path)

    assert created.status_code == 201
    assert created.json()["credential"]["kind"] == "client_secret"
    assert rotated.status_code == 202  # beside the secret until its check passes
    assert rotated.json()["new_credential"]["kind"] == "certificate"
    assert rotated.json()["new_credential"]["state"] == "pending"
    assert rotated.json()["new_credential"]["thumbprint_sha1"]
    assert {r.status_code for r in responses} >= {200, 201, 202, 400}
    canaries = [KNOWN_SECRET, plaintext, *_key_lines(key_pem)]
    for response in responses:
        text = response.content.decode()
        leaked = [c[:12] for c in canaries if c in text or json.dumps(c)[1:-1] in text]
        assert not leaked, f"{response.request['PATH_INFO']} leaked {leaked}"


def test_the_openapi_document_marks_secrets_write_only(client: Any, db: Any) -> None:
    schemas = client.get("/api/v1/openapi.json").json()["components"]["schemas"]

    assert schemas["SecretCredentialIn"]["properties"]["client_secret"]["writeOnly"] is True
    assert schemas["CertificateCredentialIn"]["properties"]["certificate_pem"]["writeOnly"] is True
    returned = set(schemas["ConnectionOut"]["properties"]) | set(
        schemas["CredentialOut"]["properties"]
    )
    assert not {name for name in returned if "secret" in name or "key" in name or "pem" in name}


# -- narrowed tokens ------------------------------------------------------------------------------


def test_a_narrowed_token_cannot_do_what_its_owner_can(alice: Any, acme: Any) -> None:
    connection = make_connection(acme, alice)
    client = ApiClient(token_for(alice, capabilities=[PROVIDER_VIEW]))

    assert client.call("GET", f"/connections/{connection.pk}").status_code == 200
    assert client.call("POST", f"/connections/{connection.pk}/disable").status_code == 403
    assert (
        client.call(
            "POST", "/runs", {"connection_id": connection.pk, "operation_type": "inventory.sync"}
        ).status_code
        == 403
    )
    assert client.call("GET", "/audit-events").status_code == 403
    assert client.call("GET", "/me").json()["capabilities"] == [PROVIDER_VIEW]


def test_a_token_of_another_workspace_sees_only_its_own(
    alice: Any, mallory: Any, acme: Any, globex: Any
) -> None:
    make_connection(acme, alice, name="Acme main")
    theirs = make_connection(globex, mallory, name="Globex main", entra_tenant_id=TENANT)

    listed = ApiClient(token_for(mallory)).call("GET", "/connections").json()

    assert [c["id"] for c in listed] == [theirs.pk]


# -- audit attribution ----------------------------------------------------------------------------


def test_every_change_through_a_token_is_attributed_to_it(alice: Any, acme: Any) -> None:
    plaintext = token_for(alice, capabilities=[PROVIDER_VIEW, PROVIDER_RUN, "provider.manage"])
    token = ApiToken.objects.get(prefix=plaintext[3:11])
    client = ApiClient(plaintext)

    pk = client.call(
        "POST",
        "/connections",
        {"display_name": "Audited", "entra_tenant_id": TENANT, "credential": _secret()},
    ).json()["id"]
    client.call("POST", "/runs", {"connection_id": pk, "operation_type": "inventory.sync"})

    events = AuditEvent.objects.filter(action__in=["connection.created", "operation.started"])
    assert events.count() == 2
    for event in events:
        assert event.via == "api"
        assert event.metadata["api_token_id"] == token.pk
        assert event.actor == alice
        assert event.request_id


# -- cursor pages ---------------------------------------------------------------------------------


def test_cursor_pages_walk_every_run_once_newest_first(alice: Any, acme: Any) -> None:
    connection = make_connection(acme, alice)
    runs = [make_run(connection) for _ in range(5)]
    client = ApiClient(token_for(alice))

    seen: list[int] = []
    page = client.call("GET", "/runs?limit=2").json()
    while True:
        seen.extend(item["id"] for item in page["items"])
        if page["next_cursor"] is None:
            break
        page = client.call("GET", f"/runs?limit=2&cursor={page['next_cursor']}").json()

    assert seen == [r.pk for r in reversed(runs)]


def test_run_filters_apply(alice: Any, acme: Any) -> None:
    first = make_connection(acme, alice)
    second = make_connection(acme, alice, name="Second", entra_tenant_id=TENANT)
    make_run(first)
    queued = make_run(second, status=RunStatus.QUEUED, operation_type="compliance.snapshot")
    client = ApiClient(token_for(alice))

    by_status = client.call("GET", "/runs?status=queued").json()["items"]
    by_type = client.call("GET", "/runs?operation_type=compliance.snapshot").json()["items"]
    by_connection = client.call("GET", f"/runs?connection_id={second.pk}").json()["items"]

    assert (
        [r["id"] for r in by_status]
        == [r["id"] for r in by_type]
        == [r["id"] for r in by_connection]
        == [queued.pk]
    )


# -- connections ----------------------------------------------------------------------------------


def test_the_connection_lifecycle_through_the_api(alice: Any, acme: Any) -> None:
    client = ApiClient(token_for(alice))

    first = client.call(
        "POST",
        "/connections",
        {"display_name": "One", "entra_tenant_id": TENANT, "credential": _secret()},
    ).json()
    second = client.call(
        "POST",
        "/connections",
        {
            "display_name": "Two",
            "entra_tenant_id": "1f1f1f1f-1111-4222-8333-444444444444",
            "credential": _secret(),
        },
    ).json()
    made_default = client.call("POST", f"/connections/{second['id']}/default").json()
    renamed = client.call("PATCH", f"/connections/{first['id']}", {"display_name": "Uno"}).json()
    deleted = client.call("DELETE", f"/connections/{second['id']}?new_default_id={first['id']}")

    assert first["is_default"] is True
    assert made_default["is_default"] is True
    assert renamed["display_name"] == "Uno"
    assert deleted.status_code == 204
    remaining = ProviderConnection.objects.for_workspace(acme).get()
    assert remaining.pk == first["id"]
    assert remaining.is_default


# -- the OpenAPI document -------------------------------------------------------------------------


def test_the_openapi_document_is_3_1_and_documents_every_operation(client: Any, db: Any) -> None:
    response = client.get("/api/v1/openapi.json")
    document = response.json()

    assert response.status_code == 200
    assert document["openapi"].startswith("3.1.")
    assert document["info"]["version"] == "1"
    assert document["components"]["securitySchemes"]["ApiTokenAuth"]["scheme"] == "bearer"
    operation_ids = []
    for path, methods in document["paths"].items():
        assert path.startswith("/api/v1/")
        for method, operation in methods.items():
            label = f"{method.upper()} {path}"
            operation_ids.append(operation["operationId"])
            responses = operation["responses"]
            assert any(code.startswith("2") for code in responses), label
            for code in ("400", "401", "403", "404"):
                schema = responses[code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/ErrorOut"}, label
            if method != "get":
                assert "409" in responses, label
            assert operation["security"] == [{"ApiTokenAuth": []}], label
    assert len(operation_ids) == len(set(operation_ids))
    assert "error" in document["components"]["schemas"]["ErrorOut"]["required"]


def test_the_docs_page_uses_bundled_assets_only(client: Any, db: Any) -> None:
    response = client.get("/api/v1/docs")

    assert response.status_code == 200
    assert b"/static/ninja/swagger-ui-bundle.js" in response.content
    assert b"cdn." not in response.content


@pytest.mark.parametrize("path", ["/api/v1/nothing-here", "/api/v1/connections/1/explode"])
def test_unknown_api_paths_answer_with_the_error_envelope(path: str, client: Any, db: Any) -> None:
    response = client.post(path)

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    "path",
    [
        "/connections",
        "/runs",
        "/inventory/managed_device",
        "/compliance-snapshots",
        "/notifications",
        "/audit-events",
    ],
)
def test_lists_cost_the_same_queries_for_one_row_or_many(path: str, alice: Any, acme: Any) -> None:
    from django.db import connection as db
    from django.test.utils import CaptureQueriesContext

    from tenantatlas.api.tests.factories import seed_workspace

    client = ApiClient(token_for(alice))
    client.call("GET", "/me")  # records the token's last use, which the next minute skips
    seed_workspace(acme, alice)
    with CaptureQueriesContext(db) as few:
        assert client.call("GET", path).status_code == 200
    for _ in range(3):
        seed_workspace(acme, alice)
    with CaptureQueriesContext(db) as many:
        assert client.call("GET", path).status_code == 200

    assert len(many) == len(few), (
        [q["sql"][:90] for q in few.captured_queries],
        [q["sql"][:90] for q in many.captured_queries],
    )
