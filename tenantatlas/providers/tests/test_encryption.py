"""Credential encryption: MultiFernet round trip, key rotation, and a wrong key that breaks nothing."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from tenantatlas.lib.reasons import ProviderError
from tenantatlas.lib.sanitize import Redactor
from tenantatlas.providers.credentials import CredentialManager, key_id_of
from tenantatlas.providers.models import ProviderCredential
from tenantatlas.providers.services import rotate_encryption_keys
from tenantatlas.providers.tests.helpers import TENANT_A, TENANT_B, TENANT_C
from tenantatlas.testing import KNOWN_SECRET, make_connection

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()
STRANGER_KEY = Fernet.generate_key().decode()
SECRETS = {
    TENANT_A: KNOWN_SECRET,
    TENANT_B: "second-secret-value-b",
    TENANT_C: "third-secret-value-c",
}


def secret_of(credential: ProviderCredential) -> str | None:
    return CredentialManager().open(credential, Redactor()).client_secret


def snapshot() -> dict[int, tuple[str, str]]:
    return dict(
        (pk, (ciphertext, key_id))
        for pk, ciphertext, key_id in ProviderCredential.objects.values_list(
            "pk", "ciphertext", "key_id"
        )
    )


def all_secrets() -> dict[str, str | None]:
    return {
        str(c.connection.entra_tenant_id): secret_of(c)
        for c in ProviderCredential.objects.select_related("connection")
    }


@pytest.fixture
def sealed_with_old_key(settings: Any, alice: Any, acme: Any) -> dict[int, tuple[str, str]]:
    """Three connections whose credentials were encrypted with OLD_KEY."""
    settings.ENCRYPTION_KEYS = [OLD_KEY]
    for n, (tenant, secret) in enumerate(SECRETS.items()):
        make_connection(acme, alice, name=f"C{n}", entra_tenant_id=tenant, secret=secret)
    return snapshot()


def test_it_round_trips_a_secret_and_registers_it_for_redaction() -> None:
    manager = CredentialManager([NEW_KEY])
    ciphertext, key_id = manager.seal({"client_secret": KNOWN_SECRET})
    credential = ProviderCredential(
        kind="client_secret",
        client_id="aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee",
        ciphertext=ciphertext,
        key_id=key_id,
    )
    redactor = Redactor()

    opened = manager.open(credential, redactor)

    assert opened.client_secret == KNOWN_SECRET
    assert opened.client_id == "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
    assert key_id == key_id_of(NEW_KEY)
    assert KNOWN_SECRET not in ciphertext
    assert (
        redactor.sanitize(f"token request with {KNOWN_SECRET}") == "token request with [redacted]"
    )


def test_it_encrypts_the_same_secret_differently_each_time() -> None:
    manager = CredentialManager([NEW_KEY])

    first, _ = manager.seal({"client_secret": KNOWN_SECRET})
    second, _ = manager.seal({"client_secret": KNOWN_SECRET})

    assert first != second


@pytest.mark.parametrize("keys", [[], ["not-a-fernet-key"]])
def test_it_refuses_to_work_without_valid_keys(keys: list[str]) -> None:
    with pytest.raises(ImproperlyConfigured):
        CredentialManager(keys)


def test_it_reads_old_data_after_a_new_primary_key_is_added(
    settings: Any, sealed_with_old_key: dict[int, tuple[str, str]]
) -> None:
    settings.ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    assert all_secrets() == SECRETS
    assert {key_id for _, key_id in snapshot().values()} == {key_id_of(OLD_KEY)}


def test_it_seals_new_credentials_with_the_new_primary_key(
    settings: Any, alice: Any, acme: Any, sealed_with_old_key: Any
) -> None:
    settings.ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    connection = make_connection(
        acme, alice, name="New", entra_tenant_id="44444444-5555-6666-7777-888888888888"
    )

    assert connection.current_credential.key_id == key_id_of(NEW_KEY)


def test_it_re_encrypts_everything_with_the_new_key_and_then_needs_only_that_key(
    settings: Any, sealed_with_old_key: dict[int, tuple[str, str]]
) -> None:
    settings.ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    counts = rotate_encryption_keys(batch_size=2)  # more than one batch

    assert counts == {"reencrypted": 3, "already_current": 0, "unreadable": 0}
    after = snapshot()
    assert {key_id for _, key_id in after.values()} == {key_id_of(NEW_KEY)}
    assert all(after[pk][0] != before[0] for pk, before in sealed_with_old_key.items())

    settings.ENCRYPTION_KEYS = [NEW_KEY]  # the old key is removed
    assert all_secrets() == SECRETS
    with pytest.raises(ProviderError):  # and the old key alone can no longer read the data
        CredentialManager([OLD_KEY]).open(ProviderCredential.objects.first(), Redactor())


def test_it_leaves_rows_already_on_the_primary_key_alone(
    settings: Any, sealed_with_old_key: dict[int, tuple[str, str]]
) -> None:
    settings.ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    rotate_encryption_keys()
    rotated = snapshot()

    counts = rotate_encryption_keys()

    assert counts == {"reencrypted": 0, "already_current": 3, "unreadable": 0}
    assert snapshot() == rotated


def test_it_rotates_through_the_management_command(
    settings: Any, sealed_with_old_key: dict[int, tuple[str, str]]
) -> None:
    settings.ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    out = io.StringIO()

    call_command("rotate_encryption_keys", stdout=out)

    assert (
        "Re-encrypted 3 credential(s) (0 already used the primary key); 0 unreadable"
        in out.getvalue()
    )
    settings.ENCRYPTION_KEYS = [NEW_KEY]
    assert all_secrets() == SECRETS


def test_it_adds_a_key_to_the_embedded_key_file_and_rotates(
    settings: Any, tmp_path: Path, sealed_with_old_key: dict[int, tuple[str, str]]
) -> None:
    key_file = tmp_path / "encryption_keys"
    key_file.write_text(OLD_KEY + "\n")
    key_file.chmod(0o600)
    settings.ENCRYPTION_KEYS_FILE = str(key_file)
    out = io.StringIO()

    call_command("rotate_encryption_keys", "--add-key", stdout=out)

    keys = key_file.read_text().split()
    assert len(keys) == 2
    assert keys[1] == OLD_KEY
    assert key_file.stat().st_mode & 0o777 == 0o600
    assert {key_id for _, key_id in snapshot().values()} == {key_id_of(keys[0])}
    settings.ENCRYPTION_KEYS = [keys[0]]
    assert all_secrets() == SECRETS


def test_it_fails_with_decrypt_failed_under_a_wrong_key(
    settings: Any, sealed_with_old_key: dict[int, tuple[str, str]]
) -> None:
    settings.ENCRYPTION_KEYS = [STRANGER_KEY]
    credential = ProviderCredential.objects.first()
    assert credential is not None

    with pytest.raises(ProviderError) as failure:
        CredentialManager().open(credential, Redactor())

    assert failure.value.reason_code == "credential.decrypt_failed"
    assert failure.value.details == {"credential_id": credential.pk, "key_id": key_id_of(OLD_KEY)}
    assert credential.ciphertext not in str(failure.value)


def test_it_overwrites_nothing_it_cannot_decrypt(
    settings: Any, sealed_with_old_key: dict[int, tuple[str, str]]
) -> None:
    settings.ENCRYPTION_KEYS = [STRANGER_KEY]

    counts = rotate_encryption_keys()

    assert counts == {"reencrypted": 0, "already_current": 0, "unreadable": 3}
    assert snapshot() == sealed_with_old_key  # byte-identical ciphertext, same key ids
    settings.ENCRYPTION_KEYS = [OLD_KEY]
    assert all_secrets() == SECRETS


def test_it_reports_unreadable_rows_from_the_command(
    settings: Any, sealed_with_old_key: dict[int, tuple[str, str]]
) -> None:
    settings.ENCRYPTION_KEYS = [NEW_KEY]  # the old key was dropped too early

    with pytest.raises(CommandError, match="could not be decrypted and were left unchanged"):
        call_command("rotate_encryption_keys", stdout=io.StringIO())

    assert snapshot() == sealed_with_old_key


def test_it_rotates_the_readable_rows_and_keeps_the_unreadable_ones(
    settings: Any, alice: Any, acme: Any, sealed_with_old_key: dict[int, tuple[str, str]]
) -> None:
    settings.ENCRYPTION_KEYS = [STRANGER_KEY]
    stranger = make_connection(
        acme, alice, name="Stranger", entra_tenant_id="55555555-6666-7777-8888-999999999999"
    )
    stranger_row = stranger.current_credential
    settings.ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    counts = rotate_encryption_keys()

    assert counts == {"reencrypted": 3, "already_current": 0, "unreadable": 1}
    after = snapshot()
    assert after[stranger_row.pk] == (stranger_row.ciphertext, key_id_of(STRANGER_KEY))
    assert {after[pk][1] for pk in sealed_with_old_key} == {key_id_of(NEW_KEY)}


@pytest.mark.parametrize("key_file", ["/srv/tenantatlas/var/encryption_keys", None])
def test_it_tells_on_the_form_where_the_local_key_file_is(
    key_file: str | None, settings: Any, alice: Any, acme: Any
) -> None:
    from tenantatlas.testing import client_for

    settings.ENCRYPTION_KEYS_FILE = key_file

    html = client_for(alice).get(f"/w/{acme.slug}/connections/new/").content.decode()

    assert "Secrets and private keys are encrypted at rest" in html
    assert (f"with the key kept in <code>{key_file}</code>" in html) is (key_file is not None)
    assert ("with the key kept in" in html) is (key_file is not None)
