"""R6 — bad input: property-based (hypothesis) tests of the connection form and API payloads.

Whatever is posted, the answer is a clear refusal (the form again with its errors, or the API's
error envelope) or a complete success — never a 5xx, and a refusal writes nothing: no
connection, no credential, no audit event, no run. Bounded example counts keep it well under
a minute. (Schemathesis fuzzes every API operation against the OpenAPI document in
``api/tests/test_fuzz.py``; this adds the "no partial writes" property.)
"""

from __future__ import annotations

import json
import uuid

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tenantatlas.accounts.services import create_api_token
from tenantatlas.audit.models import AuditEvent
from tenantatlas.operations.models import OperationRun
from tenantatlas.providers.models import ProviderConnection, ProviderCredential
from tenantatlas.testing import make_connection
from tenantatlas.workspaces.models import Membership

BOUNDED = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

guids = st.one_of(
    st.uuids().map(str),
    st.uuids().map(lambda u: "{" + str(u).upper() + "}"),
    st.text(max_size=60),
    st.just(""),
    st.just("00000000-0000-0000-0000-000000000000"),
)
texts = st.one_of(st.text(max_size=400), st.just(""), st.text(min_size=300, max_size=2000))
json_values = st.recursive(
    st.one_of(
        st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=80)
    ),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=10,
)


def rows() -> tuple[int, int, int, int]:
    return (
        ProviderConnection.objects.count(),
        ProviderCredential.objects.count(),
        AuditEvent.objects.count(),
        OperationRun.objects.count(),
    )


form_posts = st.fixed_dictionaries(
    {},
    optional={
        "display_name": texts,
        "entra_tenant_id": guids,
        "client_id": guids,
        "cloud": st.one_of(
            st.sampled_from(["global", "usgov", "usgov_dod", "china"]), st.text(max_size=20)
        ),
        "credential_kind": st.one_of(
            st.sampled_from(["client_secret", "certificate"]), st.text(max_size=20)
        ),
        "client_secret": texts,
        "secret_expires_on": st.one_of(st.dates().map(str), st.text(max_size=20)),
        "key_passphrase": st.text(max_size=40),
        "accept_expired": st.sampled_from(["on", "", "yes", "false"]),
    },
)


@pytest.mark.django_db
def test_it_answers_any_connection_form_post_with_errors_or_one_complete_connection(acme, alice):
    client = Client()
    client.force_login(alice)
    outcomes = {"refused": 0, "created": 0}

    @BOUNDED
    @given(data=form_posts)
    def post(data):
        before = rows()
        response = client.post("/w/acme/connections/new/", data)
        after = rows()
        assert response.status_code in (200, 302), response.status_code
        if response.status_code == 200:
            assert after == before  # nothing written on a refusal
            assert b"errorlist" in response.content or b'class="error' in response.content
            outcomes["refused"] += 1
        else:
            assert after[0] == before[0] + 1
            assert after[1] == before[1] + 1
            outcomes["created"] += 1

    post()
    assert outcomes["refused"] > 0


create_payloads = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "display_name": st.one_of(texts, json_values),
            "entra_tenant_id": st.one_of(guids, json_values),
            "cloud": st.one_of(st.sampled_from(["global", "china"]), json_values),
            "credential": st.one_of(
                json_values,
                st.fixed_dictionaries(
                    {},
                    optional={
                        "kind": st.one_of(
                            st.sampled_from(["client_secret", "certificate"]), json_values
                        ),
                        "client_id": st.one_of(guids, json_values),
                        "client_secret": st.one_of(texts, json_values),
                        "certificate_pem": st.one_of(texts, json_values),
                        "expires_at": st.one_of(st.datetimes().map(str), json_values),
                    },
                ),
            ),
        },
    ),
    json_values,
)
run_payloads = st.one_of(
    st.fixed_dictionaries(
        {},
        optional={
            "connection_id": st.one_of(st.integers(), json_values),
            "operation_type": st.one_of(
                st.sampled_from(["inventory.sync", "provider.health_check", "nope"]), json_values
            ),
        },
    ),
    json_values,
)


@pytest.mark.django_db
def test_it_answers_any_api_payload_with_the_error_envelope_or_a_complete_write(
    acme, alice, django_capture_on_commit_callbacks
):
    member = Membership.objects.get(workspace=acme, user=alice)
    _, token = create_api_token(
        actor=alice,
        member=member,
        name="r6",
        capabilities=["provider.view", "provider.run", "provider.manage"],
    )
    conn = make_connection(acme, alice, entra_tenant_id=str(uuid.uuid4()))
    api = Client(headers={"Authorization": f"Bearer {token}"})
    statuses: dict[int, int] = {}

    def check(path, payload, *, allowed_success):
        before = rows()
        with django_capture_on_commit_callbacks(execute=False):
            response = api.post(path, json.dumps(payload), content_type="application/json")
        statuses[response.status_code] = statuses.get(response.status_code, 0) + 1
        assert response.status_code < 500, (payload, response.content[:500])
        if response.status_code in allowed_success:
            return
        body = response.json()
        assert set(body) == {"error"}, body
        assert body["error"]["code"]
        assert body["error"]["message"]
        assert rows() == before, payload  # a refusal writes nothing (not even audit)

    @BOUNDED
    @given(payload=create_payloads)
    def create(payload):
        check("/api/v1/connections", payload, allowed_success={201})

    @BOUNDED
    @given(payload=run_payloads)
    def start(payload):
        if isinstance(payload, dict) and payload.get("connection_id") == 0:
            payload["connection_id"] = conn.pk
        check("/api/v1/runs", payload, allowed_success={200, 202, 409})

    create()
    start()
    assert any(code in statuses for code in (400, 422)), statuses
