"""The credential rules live in one domain module: each problem names its part and code, and the
form and the API report it with the same message."""

from __future__ import annotations

import ast
import datetime as dt
import html
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tenantatlas.api.tests.conftest import ApiClient, token_for
from tenantatlas.lib import dates
from tenantatlas.lib.sanitize import sanitize
from tenantatlas.providers import certificates, credential_input
from tenantatlas.providers.credential_input import (
    CertificateExpired,
    CredentialInputError,
    certificate_input,
    secret_input,
)
from tenantatlas.providers.tests.helpers import (
    CLIENT_ID,
    certificate,
    certificate_form,
    ec_certificate,
    encrypted_key,
    expired_certificate,
    url,
)
from tenantatlas.testing import client_for

# (certificate PEM, key PEM or None, passphrase) for each way a bundle can be wrong.
Bundle = Callable[[], tuple[str, str | None, str]]
BAD_BUNDLES: list[tuple[str, Bundle, str, str]] = [
    ("not PEM", lambda: ("hello", None, ""), "certificate", "no_certificate"),
    ("key only", lambda: (certificate()[0], None, ""), "certificate", "no_certificate"),
    (
        "broken certificate block",
        lambda: ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", None, ""),
        "certificate",
        "bad_certificate",
    ),
    ("no key", lambda: (certificate()[1], None, ""), "private_key", "no_key"),
    (
        "key file holds a certificate",
        lambda: (certificate()[1], certificate()[1], ""),
        "private_key",
        "no_key",
    ),
    (
        "encrypted key without passphrase",
        lambda: (certificate()[1], encrypted_key(certificate()[0], "pw"), ""),
        "private_key",
        "key_passphrase",
    ),
    (
        "passphrase for a plain key",
        lambda: (certificate()[1], certificate()[0], "pw"),
        "private_key",
        "key_passphrase",
    ),
    (
        "wrong passphrase",
        lambda: (certificate()[1], encrypted_key(certificate()[0], "pw"), "nope"),
        "private_key",
        "bad_key",
    ),
    ("EC key", lambda: (ec_certificate()[1], ec_certificate()[0], ""), "certificate", "not_rsa"),
    (
        "another certificate's key",
        lambda: (certificate("other")[1], certificate()[0], ""),
        "certificate",
        "key_mismatch",
    ),
    (
        "short RSA key",
        lambda: (
            certificate("short", key_size=1024)[1],
            certificate("short", key_size=1024)[0],
            "",
        ),
        "certificate",
        "key_too_short",
    ),
]
IDS = [case[0] for case in BAD_BUNDLES]


def _check(bundle: Bundle, **kwargs: Any) -> Any:
    cert_pem, key_pem, passphrase = bundle()
    return certificate_input(
        client_id=CLIENT_ID,
        certificate_pem=cert_pem.encode(),
        private_key_pem=key_pem.encode() if key_pem else None,
        passphrase=passphrase,
        **kwargs,
    )


@pytest.mark.parametrize(("name", "bundle", "part", "code"), BAD_BUNDLES, ids=IDS)
def test_it_names_the_part_and_code_of_each_certificate_problem(
    name: str, bundle: Bundle, part: str, code: str
) -> None:
    with pytest.raises(CredentialInputError) as refused:
        _check(bundle)

    assert (refused.value.part, refused.value.code) == (part, code)
    assert refused.value.message == str(refused.value)


def test_it_refuses_an_expired_certificate_unless_accepted() -> None:
    key_pem, cert_pem = expired_certificate()

    with pytest.raises(CertificateExpired) as refused:
        _check(lambda: (cert_pem, key_pem, ""))
    accepted = _check(lambda: (cert_pem, key_pem, ""), accept_expired=True)

    assert refused.value.part == "accept_expired"
    assert refused.value.code == "certificate_expired"
    assert (
        refused.value.message == f"This certificate expired on {refused.value.not_after:%Y-%m-%d}."
    )
    assert accepted.certificate.not_after == refused.value.not_after
    assert accepted.client_id == CLIENT_ID


def test_it_keeps_a_secret_expiry_within_the_stored_range_in_utc() -> None:
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    local = tomorrow.astimezone(dt.timezone(dt.timedelta(hours=14)))

    stored = secret_input(client_id=CLIENT_ID, client_secret="s3cret", expires_at=local)
    with pytest.raises(CredentialInputError) as past:
        secret_input(client_id=CLIENT_ID, client_secret="s3cret", expires_at=dates.EARLIEST)
    with pytest.raises(CredentialInputError) as empty:
        secret_input(client_id=CLIENT_ID, client_secret="")

    assert stored.expires_at == tomorrow
    assert stored.expires_at is not None
    assert stored.expires_at.utcoffset() == dt.timedelta(0)
    assert (past.value.part, past.value.message) == ("expires_at", dates.EXPIRY_IN_PAST)
    assert (empty.value.part, empty.value.code) == ("client_secret", "required")


def _form_errors(response: Any) -> list[str]:
    found = re.findall(r'class="error[^"]*" role="alert">(.*?)</', response.content.decode(), re.S)
    return [html.unescape(re.sub(r"\s+", " ", error)).strip() for error in found]


@pytest.mark.parametrize(("name", "bundle", "part", "code"), BAD_BUNDLES, ids=IDS)
def test_it_words_each_problem_the_same_in_the_form_and_the_api(
    name: str, bundle: Bundle, part: str, code: str, alice: Any, acme: Any
) -> None:
    cert_pem, key_pem, passphrase = bundle()
    with pytest.raises(CredentialInputError) as rule:
        _check(bundle)

    form = client_for(alice).post(
        url("create", acme), certificate_form(cert_pem, key_pem, key_passphrase=passphrase)
    )
    api = ApiClient(token_for(alice)).call(
        "POST",
        "/connections",
        {
            "display_name": "Via API",
            "entra_tenant_id": "11111111-2222-3333-4444-555555555555",
            "credential": {
                "kind": "certificate",
                "client_id": CLIENT_ID,
                "certificate_pem": cert_pem,
                "private_key_pem": key_pem,
                "key_passphrase": passphrase or None,
            },
        },
    )

    assert rule.value.message in _form_errors(form)
    assert api.status_code == 400
    # The API's envelope passes every message through the secret redactor; the messages carry
    # no PEM armour line, so the redactor leaves them whole.
    assert sanitize(rule.value.message, limit=500) == rule.value.message
    assert api.json()["error"] == {
        "code": "invalid_certificate",
        "message": rule.value.message,
        "field": f"credential.{'private_key_pem' if part == 'private_key' else 'certificate_pem'}",
    }


@pytest.mark.parametrize("module", [credential_input, certificates], ids=lambda m: m.__name__)
def test_it_keeps_django_forms_out_of_the_credential_rules(module: Any) -> None:
    tree = ast.parse(Path(module.__file__).read_text())
    imported = {
        node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
    } | {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }

    assert not {
        name for name in imported if name.startswith(("django.forms", "django.core.exceptions"))
    }
