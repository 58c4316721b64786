"""R4 — secret canary: after every operation and failure path, no secret appears anywhere.

Several simulated Entra tenants, each failing (or succeeding) in its own way, are connected
with canary secrets (and one certificate whose private-key lines are canaries too). Every
operation runs on every connection, with its completion listeners. Then everything a person,
an integration or an operator could see is scanned: every column of every table (except the
credential ciphertext), the sanitized log output at DEBUG, every workspace page, every API
read, notifications and audit (page and CSV). Zero occurrences of any canary or of anything
shaped like an access token.
"""

from __future__ import annotations

import io
import json
import logging
import re
import uuid

import pytest
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils.module_loading import import_string

from tenantatlas.accounts.services import create_api_token
from tenantatlas.lib.sanitize import SanitizingFilter
from tenantatlas.operations.models import OperationRun
from tenantatlas.operations.services import start_operation
from tenantatlas.operations.tests.processes import ALL_ROLES, sim_tenant
from tenantatlas.operations.worker import execute
from tenantatlas.providers.certificates import parse_certificate_bundle
from tenantatlas.providers.credential_input import CertificateInput
from tenantatlas.providers.models import ProviderConnection
from tenantatlas.providers.services.connections import create_connection
from tenantatlas.simulator.certs import make_test_certificate
from tenantatlas.simulator.scenarios import (
    AppScenario,
    Faults,
    SecretSpec,
    ServerErrorFault,
    TenantScenario,
    ThrottleFault,
)
from tenantatlas.testing import DEMO_CLIENT_ID, make_sim_connection
from tenantatlas.workspaces.models import Membership

OPERATIONS = ["provider.health_check", "inventory.sync", "compliance.snapshot"]
JWT = re.compile(r"eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}")


def canary(name: str) -> str:
    return f"CANARY~{name}~{uuid.uuid4().hex}"


def _tenant(name: str, **fields):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"r4-{name}")), fields


def failing_tenants(sim):
    """(label, tenant id, the secret TenantAtlas holds) for every way a tenant can go wrong."""
    cases = []

    def add(label, scenario_secret, held_secret=None, **fields):
        tenant_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"r4-{label}"))
        sim.add_tenant(sim_tenant(tenant_id, scenario_secret, device_count=25, **fields))
        cases.append((label, tenant_id, held_secret or scenario_secret))
        return tenant_id

    add("healthy", canary("healthy"))
    add("wrong secret", canary("sim-side"), held_secret=canary("wrong"))
    add("no consent", canary("consent"), roles=[])
    add(
        "missing apps permission",
        canary("partial"),
        roles=[r for r in ALL_ROLES if "Apps" not in r],
    )
    add("no intune licence", canary("licence"), intune_licensed=False)
    add("tenant mismatch", canary("mismatch"), organization_id=str(uuid.uuid4()))
    add(
        "throttled to exhaustion",
        canary("throttled"),
        faults=Faults(throttle=ThrottleFault(count=500, retry_after="0.01")),
    )
    add(
        "server errors",
        canary("5xx"),
        faults=Faults(server_errors=ServerErrorFault(count=500, status=502, retry_after="0.01")),
    )
    add("malformed json", canary("malformed"), faults=Faults(malformed_json_paths=["/v1.0/"]))
    for label, flag in (("app disabled", "disabled"), ("blocked by policy", "blocked_by_policy")):
        secret = canary(label.replace(" ", "-"))
        tenant_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"r4-{label}"))
        sim.add_tenant(
            TenantScenario(
                tenant_id=tenant_id,
                display_name=label,
                default_domain=f"{flag}.onmicrosoft.com",
                apps=[
                    AppScenario(
                        client_id=DEMO_CLIENT_ID,
                        secrets=[SecretSpec(secret)],
                        roles=list(ALL_ROLES),
                        **{flag: True},
                    )
                ],
            )
        )
        cases.append((label, tenant_id, secret))
    unknown = str(uuid.uuid5(uuid.NAMESPACE_URL, "r4-unknown"))  # never registered: AADSTS90002
    cases.append(("unknown tenant", unknown, canary("unknown")))
    return cases


def configured_formatter(name: str) -> logging.Formatter:
    """The formatter settings.LOGGING configures for TENANTATLAS_LOG_FORMAT=<name>."""
    config = settings.LOGGING["formatters"][name]
    if "()" in config:
        return import_string(config["()"])()
    return logging.Formatter(config["format"])


@pytest.fixture(params=["plain", "json"])
def sanitized_log(request):
    """The log as the configured handler writes it (same filter, the plain or the JSON
    formatter), at DEBUG for every logger."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(SanitizingFilter())
    handler.setFormatter(configured_formatter(request.param))
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(old_level)
    if request.param == "json":  # every record one JSON object, tracebacks included
        lines = stream.getvalue().splitlines()
        assert lines
        assert all(isinstance(json.loads(line), dict) for line in lines)


def database_text(exclude: set[tuple[str, str]] | frozenset[tuple[str, str]] = frozenset()) -> str:
    """Every column of every table as text, except the credential ciphertext (and ``exclude``:
    (table, column) pairs of other sealed columns)."""
    skip = {("providers_providercredential", "ciphertext"), *exclude}
    parts = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names():
            columns = [
                col.name
                for col in connection.introspection.get_table_description(cursor, table)
                if (table, col.name) not in skip
            ]
            quoted = ", ".join(connection.ops.quote_name(col) for col in columns)
            cursor.execute(f"SELECT {quoted} FROM {connection.ops.quote_name(table)}")
            parts.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(parts)


def pages_text(client: Client, workspace, api_token: str) -> str:
    """Every workspace page (lists and each object) and every API read, as the owner sees them."""
    slug = workspace.slug
    urls = [
        f"/w/{slug}/",
        f"/w/{slug}/connections/",
        f"/w/{slug}/runs/",
        f"/w/{slug}/inventory/",
        f"/w/{slug}/compliance/",
        f"/w/{slug}/notifications/",
        f"/w/{slug}/notifications/bell/",
        f"/w/{slug}/audit/",
        f"/w/{slug}/audit/export.csv",
        f"/w/{slug}/tokens/",
        f"/w/{slug}/members/",
    ]
    for conn in ProviderConnection.objects.filter(workspace=workspace):
        urls += [f"/w/{slug}/connections/{conn.pk}/", f"/w/{slug}/connections/{conn.pk}/edit/"]
    for run in OperationRun.objects.filter(workspace=workspace):
        urls.append(f"/w/{slug}/runs/{run.pk}/")
    api = [
        "/api/v1/connections",
        "/api/v1/runs?limit=100",
        "/api/v1/notifications",
        "/api/v1/audit-events",
        "/api/v1/me",
        "/api/v1/compliance-snapshots",
        "/api/v1/inventory/managed_device",
    ]
    api += [f"/api/v1/runs/{run.pk}" for run in OperationRun.objects.filter(workspace=workspace)]
    api += [
        f"/api/v1/connections/{c.pk}"
        for c in ProviderConnection.objects.filter(workspace=workspace)
    ]
    texts = []
    for url in urls:
        response = client.get(url, follow=True)
        assert response.status_code == 200, (url, response.status_code)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        texts.append(body.decode())
    auth = {"Authorization": f"Bearer {api_token}"}
    for url in api:
        response = Client().get(url, headers=auth)
        assert response.status_code == 200, (url, response.status_code)
        texts.append(response.content.decode())
    return "\n".join(texts)


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_it_leaks_no_secret_after_any_operation_or_failure(
    sim, acme, alice, settings, sanitized_log
):
    settings.GRAPH_MAX_ATTEMPTS = 3  # the exhausted paths end quickly
    cases = failing_tenants(sim)
    connections = [
        make_sim_connection(acme, alice, tenant_id, secret, name=label)
        for label, tenant_id, secret in cases
    ]
    canaries = [secret for _, _, secret in cases]

    # A certificate credential whose private key lines are canaries too (health check fails
    # on an unregistered certificate: AADSTS700027).
    key_pem, cert_pem = make_test_certificate("r4 canary")
    cert_tenant = str(uuid.uuid5(uuid.NAMESPACE_URL, "r4-certificate"))
    sim.add_tenant(sim_tenant(cert_tenant, canary("unused"), device_count=5))
    connections.append(
        create_connection(
            actor=alice,
            workspace=acme,
            display_name="certificate",
            entra_tenant_id=cert_tenant,
            cloud="simulator",
            credential=CertificateInput(
                client_id=DEMO_CLIENT_ID,
                certificate=parse_certificate_bundle(cert_pem.encode(), key_pem.encode()),
            ),
        )
    )
    canaries += [line for line in key_pem.splitlines()[1:-1] if len(line) > 20]

    outcomes = {}
    for conn in connections:
        for operation in OPERATIONS:
            run = start_operation(
                actor=alice, member=None, connection=conn, operation_type=operation
            ).run
            execute(run.pk)
            run.refresh_from_db()
            outcomes[(conn.display_name, operation)] = (run.status, run.reason_code)
    assert all(
        status in ("succeeded", "partially_succeeded", "failed") for status, _ in outcomes.values()
    )
    reasons = {reason for _, reason in outcomes.values()}
    for expected in (
        "auth.invalid_client_secret",
        "auth.consent_missing",
        "graph.license_missing",
        "graph.throttled",
        "graph.unavailable",
        "graph.invalid_response",
        "auth.app_disabled",
        "auth.blocked_by_policy",
        "auth.tenant_not_found",
        "auth.certificate_invalid",
        "provider.tenant_mismatch",
        "graph.permission_denied",
    ):
        assert expected in reasons, (expected, outcomes)

    member = Membership.objects.get(workspace=acme, user=alice)
    _, token = create_api_token(
        actor=alice, member=member, name="r4", capabilities=["provider.view", "audit.view"]
    )
    client = Client()
    client.force_login(alice)
    surfaces = {
        "database": database_text(),
        "log": sanitized_log.getvalue(),
        "pages and API": pages_text(client, acme, token),
    }
    assert "graph.throttled" in surfaces["database"]  # the scan sees what the runs wrote
    found = {
        where: [c for c in canaries if c in text] + JWT.findall(text)
        for where, text in surfaces.items()
    }
    assert found == {where: [] for where in surfaces}, found
    print(
        f"\nR4: {len(connections)} connections × {len(OPERATIONS)} operations = {len(outcomes)} runs, "
        f"{len(set(outcomes.values()))} distinct outcomes, {len(canaries)} canaries; scanned "
        + ", ".join(f"{where} {len(text):,} chars" for where, text in surfaces.items())
        + "; 0 occurrences"
    )
