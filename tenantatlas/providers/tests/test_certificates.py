"""Certificate credentials: parsed thumbprints and expiry, the accepted PEM layouts, RSA ≥ 2048 only."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization

from tenantatlas.lib.sanitize import Redactor
from tenantatlas.providers.credentials import CredentialManager
from tenantatlas.providers.models import ProviderConnection, ProviderCredential
from tenantatlas.providers.tests.helpers import (
    CLIENT_ID,
    certificate,
    certificate_form,
    counts,
    ec_certificate,
    encrypted_key,
    upload,
    url,
)
from tenantatlas.testing import client_for


def fingerprints(cert_pem: str) -> tuple[str, str, x509.Certificate]:
    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    return (
        cert.fingerprint(hashes.SHA1()).hex().upper(),
        cert.fingerprint(hashes.SHA256()).hex().upper(),
        cert,
    )


def created(client: Any, acme: Any, data: dict[str, Any]) -> tuple[ProviderConnection, str]:
    response = client.post(url("create", acme), data, follow=True)
    assert response.status_code == 200
    connection = ProviderConnection.objects.get()
    return connection, response.content.decode()


@pytest.fixture
def client(alice: Any) -> Any:
    return client_for(alice)


def test_it_parses_thumbprints_and_expiry_and_shows_them(client: Any, acme: Any) -> None:
    key_pem, cert_pem = certificate("contoso-app", days_valid=200)
    sha1, sha256, cert = fingerprints(cert_pem)

    connection, html = created(client, acme, certificate_form(cert_pem, key_pem))

    credential = ProviderCredential.objects.get(connection=connection)
    assert credential.kind == "certificate"
    assert credential.thumbprint_sha1 == sha1
    assert credential.thumbprint_sha256 == sha256
    assert credential.fingerprint == f"SHA-1 {sha1}"
    assert credential.expires_at == cert.not_valid_after_utc
    assert credential.certificate_subject == "CN=contoso-app"
    assert str(credential.client_id) == CLIENT_ID
    # the detail page (where create redirects) shows them
    assert sha1 in html
    assert sha256 in html
    assert f"Expires {cert.not_valid_after_utc:%Y-%m-%d}" in html
    assert 'data-badge="credential_expiry:valid"' in html
    listing = client.get(url("list", acme)).content.decode()
    assert 'data-badge="credential_expiry:valid"' in listing


def test_it_warns_on_the_list_when_the_certificate_expires_soon(client: Any, acme: Any) -> None:
    key_pem, cert_pem = certificate("soon", days_valid=10)

    created(client, acme, certificate_form(cert_pem, key_pem))

    assert (
        'data-badge="credential_expiry:expiring"' in client.get(url("list", acme)).content.decode()
    )


@pytest.mark.parametrize("order", ["key-then-cert", "cert-then-key"])
def test_it_accepts_a_combined_pem_with_key_and_certificate(
    order: str, client: Any, acme: Any
) -> None:
    key_pem, cert_pem = certificate("combined")
    combined = key_pem + cert_pem if order == "key-then-cert" else cert_pem + key_pem
    sha1, sha256, _ = fingerprints(cert_pem)

    connection, html = created(client, acme, certificate_form(combined))

    credential = ProviderCredential.objects.get(connection=connection)
    assert (credential.thumbprint_sha1, credential.thumbprint_sha256) == (sha1, sha256)
    assert sha256 in html


def test_it_stores_the_key_and_certificate_for_the_credential_manager_only(
    client: Any, acme: Any
) -> None:
    key_pem, cert_pem = certificate("stored")

    connection, _ = created(client, acme, certificate_form(cert_pem, key_pem))

    credential = ProviderCredential.objects.get(connection=connection)
    assert "PRIVATE KEY" not in credential.ciphertext
    opened = CredentialManager().open(credential, Redactor())
    assert opened.client_id == CLIENT_ID
    assert opened.client_secret is None
    assert opened.certificate_pem == cert_pem
    stored_key = serialization.load_pem_private_key(opened.private_key_pem.encode(), password=None)
    original = serialization.load_pem_private_key(key_pem.encode(), password=None)
    assert stored_key.private_numbers() == original.private_numbers()  # type: ignore[union-attr]


def test_it_accepts_a_traditional_rsa_private_key(client: Any, acme: Any) -> None:
    key_pem, cert_pem = certificate("pkcs1")
    key = serialization.load_pem_private_key(key_pem.encode(), password=None)
    pkcs1 = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    assert pkcs1.startswith("-----BEGIN RSA PRIVATE KEY-----")

    connection, _ = created(client, acme, certificate_form(cert_pem, pkcs1))

    assert ProviderCredential.objects.get(connection=connection).kind == "certificate"


def test_it_accepts_an_encrypted_key_with_its_passphrase(client: Any, acme: Any) -> None:
    key_pem, cert_pem = certificate("encrypted")
    passphrase = "open sesame 42"

    connection, _ = created(
        client,
        acme,
        certificate_form(cert_pem, encrypted_key(key_pem, passphrase), key_passphrase=passphrase),
    )

    opened = CredentialManager().open(
        ProviderCredential.objects.get(connection=connection), Redactor()
    )
    # stored decrypted (the credential manager's encryption protects it), so jobs need no passphrase
    assert "ENCRYPTED" not in opened.private_key_pem
    serialization.load_pem_private_key(opened.private_key_pem.encode(), password=None)


@pytest.mark.parametrize(
    ("passphrase", "message"),
    [
        ("", "The private key is encrypted: enter its passphrase."),
        ("wrong passphrase", "The private key could not be read (wrong passphrase"),
    ],
)
def test_it_refuses_an_encrypted_key_without_the_right_passphrase(
    passphrase: str, message: str, client: Any, acme: Any
) -> None:
    key_pem, cert_pem = certificate("encrypted")
    before = counts()

    response = client.post(
        url("create", acme),
        certificate_form(
            cert_pem, encrypted_key(key_pem, "the right one"), key_passphrase=passphrase
        ),
    )

    assert response.status_code == 200
    assert message in response.content.decode()
    assert counts() == before


def test_it_refuses_a_passphrase_for_a_key_that_is_not_encrypted(client: Any, acme: Any) -> None:
    key_pem, cert_pem = certificate("plain")
    before = counts()

    response = client.post(
        url("create", acme), certificate_form(cert_pem, key_pem, key_passphrase="unneeded")
    )

    assert (
        "The private key is not encrypted: leave the passphrase empty." in response.content.decode()
    )
    assert counts() == before


def test_it_refuses_an_ec_key(client: Any, acme: Any) -> None:
    key_pem, cert_pem = ec_certificate()
    before = counts()

    response = client.post(url("create", acme), certificate_form(cert_pem, key_pem))

    assert response.status_code == 200
    assert (
        "Entra app certificates for client credentials must use an RSA key."
        in response.content.decode()
    )
    assert counts() == before


def test_it_refuses_an_rsa_key_shorter_than_2048_bits(client: Any, acme: Any) -> None:
    key_pem, cert_pem = certificate("short-key", key_size=1024)
    before = counts()

    response = client.post(url("create", acme), certificate_form(cert_pem, key_pem))

    assert response.status_code == 200
    assert (
        "RSA key has 1024 bits; Entra app credentials need at least 2048."
        in response.content.decode()
    )
    assert counts() == before


def test_it_refuses_a_short_key_in_a_combined_pem_on_rotation(
    alice: Any, client: Any, acme: Any
) -> None:
    from tenantatlas.testing import make_connection

    connection = make_connection(acme, alice)
    key_pem, cert_pem = certificate("short-key", key_size=1024)
    before = counts()

    response = client.post(
        url("rotate", acme, connection),
        {
            "client_id": CLIENT_ID,
            "credential_kind": "certificate",
            "certificate_file": upload(cert_pem + key_pem),
        },
    )

    assert response.status_code == 200
    assert "at least 2048" in response.content.decode()
    assert counts() == before


def test_it_rotates_from_a_secret_to_a_certificate(alice: Any, client: Any, acme: Any) -> None:
    from tenantatlas.testing import make_connection

    connection = make_connection(acme, alice)
    key_pem, cert_pem = certificate("rotated")
    sha1, _, _ = fingerprints(cert_pem)

    response = client.post(
        url("rotate", acme, connection),
        {
            "client_id": CLIENT_ID,
            "credential_kind": "certificate",
            "certificate_file": upload(cert_pem),
            "private_key_file": upload(key_pem),
        },
        follow=True,
    )

    # Beside the secret until its check passes (test_rotation_overlap.py): the page shows it.
    new = ProviderCredential.objects.get(connection=connection, state="pending")
    assert (new.kind, new.version, new.thumbprint_sha1) == ("certificate", 2, sha1)
    assert sha1 in response.content.decode()
