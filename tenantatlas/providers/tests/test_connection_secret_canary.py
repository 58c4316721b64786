"""Secret canaries: known secrets and a known private key go in; they must come out nowhere.

The flow creates, edits and rotates connections through the pages with a known client secret, a
known private key (behind a known passphrase) and a second secret, does the same with the
partner app (created with a secret, rotated to the certificate and back to the second secret, a
customer onboarded through a consent link), then looks for those strings
(and the base64 lines of the key) in every column of every table except the credential
ciphertext, in every page it rendered and a few more, in the audit trail and in the logs.
"""

from __future__ import annotations

import base64
import json
import logging
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection

from tenantatlas.audit.models import AuditEvent
from tenantatlas.providers.models import ProviderConnection, ProviderCredential
from tenantatlas.providers.tests.helpers import (
    CLIENT_ID,
    TENANT_A,
    TENANT_B,
    TENANT_C,
    certificate,
    certificate_form,
    encrypted_key,
    secret_form,
    upload,
    url,
)
from tenantatlas.testing import KNOWN_SECRET, client_for, make_connection

SECOND_SECRET = "Zq7~second-canary-4c1e8a0b2d9f6e3a"
PASSPHRASE = "canary passphrase 8d2f1b"
ALLOWED_COLUMN = (ProviderCredential._meta.db_table, "ciphertext")


@dataclass
class Flow:
    """What the flow handled and what it produced."""

    key_pem: str
    needles: dict[str, str]
    pages: dict[str, str] = field(default_factory=dict)


def _needles(key_pem: str) -> dict[str, str]:
    needles = {}
    for name, secret in (
        ("secret", KNOWN_SECRET),
        ("second secret", SECOND_SECRET),
        ("passphrase", PASSPHRASE),
    ):
        needles[name] = secret
        needles[f"{name} (url-encoded)"] = quote_plus(secret)
        needles[f"{name} (base64)"] = base64.b64encode(secret.encode()).decode()
    body = [line for line in key_pem.splitlines() if line and not line.startswith("-----")]
    for n, line in enumerate(body):
        if len(line) >= 16:
            needles[f"private key line {n}"] = line
    return needles


@pytest.fixture
def flow(alice: Any, acme: Any, caplog: pytest.LogCaptureFixture) -> Flow:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="django.db.backends")
    key_pem, cert_pem = certificate("canary")
    result = Flow(key_pem=key_pem, needles=_needles(key_pem))
    client = client_for(alice)

    def page(label: str, response: Any) -> None:
        assert response.status_code in (200, 302), (label, response.status_code)
        body = b"".join(response.streaming_content) if response.streaming else response.content
        result.pages[label] = body.decode() + json.dumps(dict(response.items()))

    connection.force_debug_cursor = True  # log every SQL statement with its parameters
    try:
        # A refused create first: the re-rendered form must not echo the secret.
        page(
            "refused create",
            client.post(
                url("create", acme), secret_form(client_id="bad", client_secret=KNOWN_SECRET)
            ),
        )
        page(
            "create",
            client.post(url("create", acme), secret_form(client_secret=KNOWN_SECRET), follow=True),
        )
        contoso = ProviderConnection.objects.get(entra_tenant_id=TENANT_A)
        page("edit form", client.get(url("edit", acme, contoso)))
        page(
            "edit keeps",
            client.post(
                url("edit", acme, contoso),
                secret_form(display_name="Contoso 2", client_secret=""),
                follow=True,
            ),
        )
        page(
            "edit rotates",
            client.post(
                url("edit", acme, contoso), secret_form(client_secret=SECOND_SECRET), follow=True
            ),
        )
        page("edit form after", client.get(url("edit", acme, contoso)))
        page(
            "rotate to certificate",
            client.post(
                url("rotate", acme, contoso),
                {
                    "client_id": CLIENT_ID,
                    "credential_kind": "certificate",
                    "certificate_file": upload(cert_pem + encrypted_key(key_pem, PASSPHRASE)),
                    "key_passphrase": PASSPHRASE,
                },
                follow=True,
            ),
        )
        page(
            "refused certificate create",
            client.post(
                url("create", acme),
                certificate_form(
                    cert_pem,
                    encrypted_key(key_pem, PASSPHRASE),
                    entra_tenant_id=TENANT_B,
                    key_passphrase="wrong",
                ),
            ),
        )
        page(
            "certificate create",
            client.post(
                url("create", acme),
                certificate_form(
                    cert_pem + key_pem, entra_tenant_id=TENANT_B, display_name="Fabrikam"
                ),
                follow=True,
            ),
        )
        fabrikam = ProviderConnection.objects.get(entra_tenant_id=TENANT_B)
        page(
            "rotate to secret",
            client.post(
                url("rotate", acme, fabrikam),
                {
                    "client_id": CLIENT_ID,
                    "credential_kind": "client_secret",
                    "client_secret": KNOWN_SECRET,
                },
                follow=True,
            ),
        )
        for name in ("detail", "edit", "rotate", "delete", "status"):
            for conn in (contoso, fabrikam):
                page(f"{name} {conn.display_name}", client.get(url(name, acme, conn)))
        _partner_app_flow(client, acme, cert_pem, key_pem, page)
        page("list", client.get(url("list", acme)))
        page("audit", client.get(f"/w/{acme.slug}/audit/"))
        page("audit csv", client.get(f"/w/{acme.slug}/audit/export.csv"))
        page("members", client.get(f"/w/{acme.slug}/members/"))
        page("runs", client.get(f"/w/{acme.slug}/runs/"))
    finally:
        connection.force_debug_cursor = False
    return result


def _partner_app_flow(client: Any, acme: Any, cert_pem: str, key_pem: str, page: Any) -> None:
    """The partner app's pages with the same canaries, and a connection onboarded through it."""
    from django.urls import reverse

    from tenantatlas.onboarding.models import Onboarding
    from tenantatlas.onboarding.services import consent_url

    def at(name: str) -> str:
        return reverse(f"onboarding:{name}", kwargs={"slug": acme.slug})

    app = {"display_name": "Partner app", "cloud": "global", "client_id": CLIENT_ID}
    page(
        "refused partner app",
        client.post(
            at("partner_app_edit"),
            {
                **app,
                "client_id": "bad",
                "credential_kind": "client_secret",
                "client_secret": KNOWN_SECRET,
            },
        ),
    )
    page(
        "partner app create",
        client.post(
            at("partner_app_edit"),
            {**app, "credential_kind": "client_secret", "client_secret": KNOWN_SECRET},
            follow=True,
        ),
    )
    page(
        "partner app to certificate",
        client.post(
            at("partner_app_edit"),
            {
                **app,
                "credential_kind": "certificate",
                "certificate_file": upload(cert_pem + encrypted_key(key_pem, PASSPHRASE)),
                "key_passphrase": PASSPHRASE,
            },
            follow=True,
        ),
    )
    page(
        "partner app to secret",
        client.post(
            at("partner_app_edit"),
            {**app, "credential_kind": "client_secret", "client_secret": SECOND_SECRET},
            follow=True,
        ),
    )
    page("partner app edit form", client.get(at("partner_app_edit")))
    page(
        "onboarding start",
        client.post(at("start"), {"customer_name": "Northwind"}, follow=True),
    )
    onboarding = Onboarding.objects.get(customer_name="Northwind")
    state = consent_url(onboarding).rsplit("state=", 1)[1]
    callback = reverse("onboarding_callback")
    page(
        "consent callback",
        client.get(callback, {"tenant": TENANT_C, "admin_consent": "True", "state": state}),
    )
    partner_connection = ProviderConnection.objects.get(entra_tenant_id=TENANT_C)
    page("partner connection", client.get(url("detail", acme, partner_connection)))
    page("partner app", client.get(at("partner_app")))
    page("onboardings", client.get(at("list")))
    bulk_tenant = "3d3d3d3d-4e4e-4f5f-8a6a-7b7b7b7b7b7b"
    page("bulk add", client.post(at("bulk_add"), {"entries": f"{bulk_tenant}, Bulk customer"}))
    bulk_connection = ProviderConnection.objects.get(entra_tenant_id=bulk_tenant)
    page("bulk check", client.post(at("bulk_check"), {"connection": [str(bulk_connection.pk)]}))


def _found(text: str, needles: dict[str, str]) -> list[str]:
    return [name for name, needle in needles.items() if needle in text]


def _cell_text(value: Any) -> str:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, dict | list):
        return json.dumps(value)
    return "" if value is None else str(value)


def _scan_database(needles: dict[str, str]) -> list[str]:
    """Every cell of every table, read with plain SQL so no model code can hide anything."""
    leaks = []
    quote = connection.ops.quote_name
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {quote(table)}")
            columns = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    if (table, column) == ALLOWED_COLUMN:
                        continue
                    text = _cell_text(value)
                    if table == "django_session" and column == "session_data":
                        text += json.dumps(SessionStore().decode(text), default=str)
                    leaks += [f"{table}.{column}: {name}" for name in _found(text, needles)]
    return leaks


def _scan_logs(
    records: list[logging.LogRecord], handler: logging.Handler, needles: dict[str, str]
) -> list[str]:
    leaks = []
    for record in records:
        text = "\n".join(
            (handler.format(record), repr(record.args), repr(getattr(record, "params", "")))
        )
        leaks += [f"{record.name}: {name}" for name in _found(text, needles)]
    return leaks


def test_it_leaks_the_canaries_nowhere(flow: Flow, caplog: pytest.LogCaptureFixture) -> None:
    records = caplog.get_records("setup")
    events = list(AuditEvent.objects.values())

    leaks = {
        "database (except ProviderCredential.ciphertext)": _scan_database(flow.needles),
        "pages": {
            label: found
            for label, html in flow.pages.items()
            if (found := _found(html, flow.needles))
        },
        "audit": _found(json.dumps(events, default=str), flow.needles),
        "logs": _scan_logs(records, caplog.handler, flow.needles),
    }

    assert leaks == {
        "database (except ProviderCredential.ciphertext)": [],
        "pages": {},
        "audit": [],
        "logs": [],
    }
    # ...and each sink was really looked at
    assert len(flow.pages) > 20
    assert 'name="client_secret"' in flow.pages["refused create"]
    assert "Enter a GUID" in flow.pages["refused create"]
    assert {e["action"] for e in events} >= {
        "connection.created",
        "connection.updated",
        "credential.rotated",
        "credential.added",  # a new secret beside the current one, waiting for its check
        "partner_app.created",
        "onboarding.completed",
    }
    assert any("INSERT INTO" in r.getMessage() for r in records), "SQL logging was not captured"
    assert ProviderCredential.objects.count() == 8  # 5 of connections, 3 of the partner app
    assert ProviderCredential.objects.filter(partner_app__isnull=False).count() == 3
    assert all(c.ciphertext.startswith("gAAAA") for c in ProviderCredential.objects.all())


def test_it_finds_a_canary_wherever_it_leaks(
    alice: Any, acme: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """The scanners themselves must be able to fail."""
    key_pem, _ = certificate("probe")
    needles = _needles(key_pem)
    make_connection(acme, alice, name="Leaky", secret=KNOWN_SECRET)
    ProviderConnection.objects.filter(workspace=acme).update(
        health_message=f"oops {KNOWN_SECRET}", granted_permissions=[key_pem.splitlines()[3]]
    )
    logging.getLogger("tenantatlas.probe").warning("client_secret is %s", SECOND_SECRET)

    leaks = _scan_database(needles)

    assert "providers_providerconnection.health_message: secret" in leaks
    assert "providers_providerconnection.granted_permissions: private key line 2" in leaks
    assert "tenantatlas.probe: second secret" in _scan_logs(caplog.records, caplog.handler, needles)
