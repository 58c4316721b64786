"""Bad input through the real forms: a clear error on the page and nothing changed."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tenantatlas.audit.models import AuditEvent
from tenantatlas.lib import dates
from tenantatlas.providers.models import ProviderConnection, ProviderCredential
from tenantatlas.providers.tests.helpers import (
    CLIENT_ID,
    TENANT_A,
    TENANT_B,
    certificate,
    certificate_form,
    counts,
    expired_certificate,
    secret_form,
    upload,
    url,
)
from tenantatlas.testing import client_for, make_connection

GUID_ERROR = "Enter a GUID, e.g. 72f988bf-86f1-41af-91ab-2d7cd011db47."
XSS_NAME = '<script>alert("pwned")</script><img src=x onerror=alert(1)>'


def field_errors(html: str) -> list[str]:
    """The texts of the form's error messages as rendered."""
    return [
        re.sub(r"\s+", " ", m).strip()
        for m in re.findall(r'class="error[^"]*" role="alert">(.*?)</', html, re.S)
    ]


def assert_refused(response: Any, message: str, before: dict[str, int]) -> None:
    assert response.status_code == 200
    html = response.content.decode()
    assert any(message in error for error in field_errors(html)), field_errors(html)
    assert counts() == before


@pytest.fixture
def client(alice: Any) -> Any:
    return client_for(alice)


# -- GUIDs, names, duplicates --------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "not-a-guid",
        "11111111-2222-3333-4444",
        "11111111-2222-3333-4444-55555555555Z",
        "11111111-2222-3333-4444-5555555555551",
        "contoso.onmicrosoft.com",
        "' OR 1=1 --",
    ],
)
@pytest.mark.parametrize("field", ["entra_tenant_id", "client_id"])
def test_it_refuses_malformed_guids(field: str, value: str, client: Any, acme: Any) -> None:
    before = counts()

    response = client.post(url("create", acme), secret_form(**{field: value}))

    assert_refused(response, GUID_ERROR, before)


@pytest.mark.parametrize(
    "value", [TENANT_A.upper(), "{" + TENANT_A + "}", TENANT_A.replace("-", "")]
)
def test_it_refuses_an_entra_tenant_already_connected_in_the_workspace(
    value: str, alice: Any, client: Any, acme: Any
) -> None:
    make_connection(acme, alice, entra_tenant_id=TENANT_A)
    before = counts()

    response = client.post(
        url("create", acme), secret_form(display_name="Again", entra_tenant_id=value)
    )

    assert_refused(response, "This Entra tenant is already connected in this workspace.", before)


def test_it_refuses_to_edit_a_connection_onto_another_connections_tenant(
    alice: Any, client: Any, acme: Any
) -> None:
    make_connection(acme, alice, name="First", entra_tenant_id=TENANT_A)
    second = make_connection(acme, alice, name="Second", entra_tenant_id=TENANT_B)
    before = counts()

    response = client.post(
        url("edit", acme, second),
        secret_form(display_name="Second", entra_tenant_id=TENANT_A, client_secret=""),
    )

    assert_refused(response, "This Entra tenant is already connected in this workspace.", before)
    assert str(ProviderConnection.objects.get(pk=second.pk).entra_tenant_id) == TENANT_B


def test_it_allows_the_same_entra_tenant_in_another_workspace(
    mallory: Any, client: Any, acme: Any, globex: Any
) -> None:
    make_connection(globex, mallory, entra_tenant_id=TENANT_A)

    response = client.post(url("create", acme), secret_form(entra_tenant_id=TENANT_A))

    assert response.status_code == 302
    assert ProviderConnection.objects.for_workspace(acme).count() == 1


@pytest.mark.parametrize("name", ["x" * 101, "ü" * 150, ""])
def test_it_refuses_names_over_the_limit_or_empty(name: str, client: Any, acme: Any) -> None:
    before = counts()

    response = client.post(url("create", acme), secret_form(display_name=name))

    message = (
        "This field is required." if not name else "Ensure this value has at most 100 characters"
    )
    assert_refused(response, message, before)


def test_it_accepts_a_name_of_exactly_100_characters(client: Any, acme: Any) -> None:
    response = client.post(url("create", acme), secret_form(display_name="n" * 100))

    assert response.status_code == 302
    assert ProviderConnection.objects.get().display_name == "n" * 100


def test_it_renders_html_in_names_escaped_everywhere(alice: Any, client: Any, acme: Any) -> None:
    response = client.post(url("create", acme), secret_form(display_name=XSS_NAME), follow=True)
    connection = ProviderConnection.objects.get()
    assert connection.display_name == XSS_NAME  # stored as typed, escaped on output

    pages = {
        "after create": response,
        "list": client.get(url("list", acme)),
        "detail": client.get(url("detail", acme, connection)),
        "edit": client.get(url("edit", acme, connection)),
        "rotate": client.get(url("rotate", acme, connection)),
        "delete": client.get(url("delete", acme, connection)),
        "audit": client.get(f"/w/{acme.slug}/audit/"),
    }
    for page, page_response in pages.items():
        html = page_response.content.decode()
        assert page_response.status_code == 200, page
        assert "<script>alert" not in html, page
        assert "<img src=x" not in html, page
    for page in ("list", "detail"):
        assert (
            "&lt;script&gt;alert(&quot;pwned&quot;)&lt;/script&gt;" in pages[page].content.decode()
        )


def test_it_refuses_a_missing_secret_on_create(client: Any, acme: Any) -> None:
    before = counts()

    response = client.post(url("create", acme), secret_form(client_secret=""))

    assert_refused(response, "Enter the client secret value.", before)


def test_it_refuses_a_secret_expiry_in_the_past(client: Any, acme: Any) -> None:
    before = counts()

    response = client.post(url("create", acme), secret_form(secret_expires_on="2020-01-31"))

    assert_refused(response, dates.EXPIRY_IN_PAST, before)


@pytest.mark.parametrize("kind", ["", "password", "certificate "])
def test_it_shows_why_a_credential_type_is_refused(
    client: Any, acme: Any, alice: Any, kind: str
) -> None:
    connection = make_connection(acme, alice, entra_tenant_id=TENANT_B)
    before = counts()

    create = client.post(url("create", acme), secret_form(credential_kind=kind))
    rotate = client.post(url("rotate", acme, connection), secret_form(credential_kind=kind))

    expected = "This field is required." if kind == "" else "Select a valid choice."
    assert_refused(create, expected, before)
    assert_refused(rotate, expected, before)


def test_it_refuses_an_unknown_cloud(client: Any, acme: Any) -> None:
    before = counts()

    response = client.post(url("create", acme), secret_form(cloud="moon"))

    assert_refused(response, "Select a valid choice.", before)


# -- certificates --------------------------------------------------------------------------------

NOT_A_KEY = "-----BEGIN PRIVATE KEY-----\nTm90IGEga2V5IGF0IGFsbCwganVzdCB0ZXh0Lg==\n-----END PRIVATE KEY-----\n"
NOT_A_CERT = "-----BEGIN CERTIFICATE-----\nTm90IGEgY2VydGlmaWNhdGUu\n-----END CERTIFICATE-----\n"


def test_it_refuses_a_pem_that_is_not_a_key(client: Any, acme: Any) -> None:
    _, cert_pem = certificate()
    before = counts()

    response = client.post(url("create", acme), certificate_form(cert_pem, NOT_A_KEY))

    assert_refused(response, "The private key could not be read", before)


def test_it_refuses_a_certificate_given_as_the_key(client: Any, acme: Any) -> None:
    _, cert_pem = certificate()
    before = counts()

    response = client.post(url("create", acme), certificate_form(cert_pem, cert_pem))

    assert_refused(response, "The private key file holds a certificate, not a private key.", before)


def test_it_refuses_a_certificate_without_any_key(client: Any, acme: Any) -> None:
    _, cert_pem = certificate()
    before = counts()

    response = client.post(url("create", acme), certificate_form(cert_pem))

    assert_refused(response, "No private key found", before)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("just some text\n", "The certificate file is not a PEM certificate"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "The certificate file is not a PEM certificate"),
        (NOT_A_CERT, "could not be read as an X.509 certificate"),
    ],
)
def test_it_refuses_a_file_that_is_not_a_certificate(
    content: str | bytes, message: str, client: Any, acme: Any
) -> None:
    key_pem, _ = certificate()
    before = counts()

    response = client.post(
        url("create", acme),
        {**certificate_form("", key_pem), "certificate_file": upload(content, "cert.pem")},
    )

    assert_refused(response, message, before)


def test_it_refuses_a_key_file_given_as_the_certificate(client: Any, acme: Any) -> None:
    key_pem, _ = certificate()
    before = counts()

    response = client.post(url("create", acme), certificate_form(key_pem))

    assert_refused(response, "The certificate file holds a private key but no certificate", before)


def test_it_refuses_a_key_that_does_not_match_the_certificate(client: Any, acme: Any) -> None:
    _, cert_pem = certificate("one")
    other_key, _ = certificate("two")
    before = counts()

    response = client.post(url("create", acme), certificate_form(cert_pem, other_key))

    assert_refused(response, "The private key does not belong to this certificate.", before)


def test_it_refuses_an_expired_certificate_with_a_visible_warning(client: Any, acme: Any) -> None:
    key_pem, cert_pem = expired_certificate()
    before = counts()

    response = client.post(url("create", acme), certificate_form(cert_pem, key_pem))

    assert_refused(response, "This certificate expired on", before)
    html = response.content.decode()
    assert 'class="error warning" role="alert"' in html
    assert "Tick the box to save it anyway" in html


def test_it_accepts_an_expired_certificate_when_the_box_is_ticked(client: Any, acme: Any) -> None:
    key_pem, cert_pem = expired_certificate()

    response = client.post(
        url("create", acme), certificate_form(cert_pem, key_pem, accept_expired="on"), follow=True
    )

    credential = ProviderCredential.objects.get()
    assert response.status_code == 200
    assert credential.kind == "certificate"
    assert credential.expires_at is not None
    assert 'data-badge="credential_expiry:expired"' in response.content.decode()
    assert AuditEvent.objects.filter(action="connection.created").count() == 1


def test_it_refuses_an_oversized_upload(client: Any, acme: Any) -> None:
    key_pem, cert_pem = certificate()
    padded = cert_pem + key_pem + ("#" * 80 + "\n") * 1000  # ~80 KiB: no PEM is that large
    before = counts()

    response = client.post(url("create", acme), certificate_form(padded))

    assert_refused(response, "This file is too large for a PEM certificate or key.", before)


def test_it_refuses_a_certificate_type_without_a_file(client: Any, acme: Any) -> None:
    before = counts()
    data = certificate_form("")
    del data["certificate_file"]

    response = client.post(url("create", acme), data)

    assert_refused(response, "Upload the certificate as a PEM file.", before)


# -- edit and rotate change nothing on bad input -------------------------------------------------


def test_it_changes_nothing_when_an_edit_is_refused(client: Any, acme: Any, contoso: Any) -> None:
    credential = contoso.current_credential
    before = counts()

    response = client.post(
        url("edit", acme, contoso),
        secret_form(display_name="Renamed", client_id="nope", client_secret="a-new-secret-value"),
    )

    assert_refused(response, GUID_ERROR, before)
    contoso.refresh_from_db()
    assert contoso.display_name == "Contoso"
    assert (
        ProviderCredential.objects.get(connection=contoso, retired_at__isnull=True).ciphertext
        == credential.ciphertext
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda: (certificate("a")[1], certificate("b")[0], {}),
            "does not belong to this certificate",
        ),
        (lambda: (*reversed(expired_certificate()), {}), "This certificate expired on"),
        (lambda: (certificate()[1], NOT_A_KEY, {}), "The private key could not be read"),
    ],
)
def test_it_changes_nothing_when_a_rotation_is_refused(
    make: Any, message: str, client: Any, acme: Any, contoso: Any
) -> None:
    cert_pem, key_pem, extra = make()
    credential = contoso.current_credential
    before = counts()

    response = client.post(
        url("rotate", acme, contoso),
        {
            "client_id": CLIENT_ID,
            "credential_kind": "certificate",
            "certificate_file": upload(cert_pem),
            "private_key_file": upload(key_pem),
            **extra,
        },
    )

    assert_refused(response, message, before)
    current = ProviderCredential.objects.get(connection=contoso, retired_at__isnull=True)
    assert (current.pk, current.ciphertext) == (credential.pk, credential.ciphertext)


def test_it_refuses_a_rotation_without_a_new_secret(client: Any, acme: Any, contoso: Any) -> None:
    before = counts()

    response = client.post(
        url("rotate", acme, contoso), {"client_id": CLIENT_ID, "credential_kind": "client_secret"}
    )

    assert_refused(response, "Enter the client secret value.", before)
