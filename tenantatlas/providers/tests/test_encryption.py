"""Credential encryption: MultiFernet round trip, key rotation, and a wrong key that breaks nothing."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from django.core.management.base import SystemCheckError

from tenantatlas.lib.actors import COMMAND
from tenantatlas.lib.reasons import ProviderError
from tenantatlas.lib.sanitize import Redactor
from tenantatlas.providers.checks import check_encryption_keys
from tenantatlas.providers.credentials import CredentialManager, key_id_of
from tenantatlas.providers.models import ProviderCredential
from tenantatlas.providers.services.credentials import rotate_encryption_keys
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

    counts = rotate_encryption_keys(actor=COMMAND, batch_size=2)  # more than one batch

    assert counts == {"reencrypted": 3, "already_current": 0, "unreadable": 0}
    after = snapshot()
    assert {key_id for _, key_id in after.values()} == {key_id_of(NEW_KEY)}
    assert all(after[pk][0] != before[0] for pk, before in sealed_with_old_key.items())

    settings.ENCRYPTION_KEYS = [NEW_KEY]  # the old key is removed
    assert all_secrets() == SECRETS
    credential = ProviderCredential.objects.first()
    assert credential is not None
    with pytest.raises(ProviderError):  # and the old key alone can no longer read the data
        CredentialManager([OLD_KEY]).open(credential, Redactor())


def test_it_leaves_rows_already_on_the_primary_key_alone(
    settings: Any, sealed_with_old_key: dict[int, tuple[str, str]]
) -> None:
    settings.ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]
    rotate_encryption_keys(actor=COMMAND)
    rotated = snapshot()

    counts = rotate_encryption_keys(actor=COMMAND)

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

    counts = rotate_encryption_keys(actor=COMMAND)

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

    counts = rotate_encryption_keys(actor=COMMAND)

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
    alice.is_superuser = True  # who manages the install sees where the key lives
    alice.save(update_fields=["is_superuser"])

    html = client_for(alice).get(f"/w/{acme.slug}/connections/new/").content.decode()

    assert "Secrets and private keys are encrypted at rest" in html
    assert (f"with the key kept in <code>{key_file}</code>" in html) is (key_file is not None)
    assert ("with the key kept in" in html) is (key_file is not None)


# -- bad keys are refused at start --------------------------------------------------------

MALFORMED_KEY = "not-a-fernet-key-but-a-secret-all-the-same"


def _start(argv: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """Start a real process; one that keeps running past ``timeout`` did not refuse."""
    try:
        result = subprocess.run(
            argv,
            cwd=django_settings.BASE_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return 0, "still running"
    return result.returncode, result.stdout + result.stderr


def _embedded_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TENANTATLAS_", "DJANGO_", "SECRET_KEY", "DATABASE_URL"))
    }
    return {**env, "TENANTATLAS_DATA_DIR": str(data_dir), **extra}


TENANTATLAS = str(Path(sys.executable).parent / "tenantatlas")
ENTRY_POINTS = {
    "check": [TENANTATLAS, "check"],
    "worker": [TENANTATLAS, "worker"],
    "reap": [TENANTATLAS, "reap", "--loop"],
    "gunicorn": [sys.executable, "-c", "import tenantatlas.wsgi"],
}


@pytest.mark.parametrize("entry_point", ENTRY_POINTS)
def test_it_refuses_to_start_with_a_malformed_key_in_the_variable(
    entry_point: str, tmp_path: Path
) -> None:
    env = _embedded_env(tmp_path / "var", TENANTATLAS_ENCRYPTION_KEYS=f"{NEW_KEY},{MALFORMED_KEY}")

    code, output = _start(ENTRY_POINTS[entry_point], env)

    assert code != 0
    assert "TENANTATLAS_ENCRYPTION_KEYS: key 2 of 2 is not a valid Fernet key" in output
    assert MALFORMED_KEY not in output
    assert NEW_KEY not in output


def test_it_names_the_key_file_that_holds_a_malformed_key(tmp_path: Path) -> None:
    key_file = tmp_path / "keys"
    key_file.write_text(f"{MALFORMED_KEY}\n{NEW_KEY}\n")
    env = _embedded_env(tmp_path / "var", TENANTATLAS_ENCRYPTION_KEYS_FILE=str(key_file))

    code, output = _start(ENTRY_POINTS["check"], env)

    assert code != 0
    assert f"TENANTATLAS_ENCRYPTION_KEYS_FILE ({key_file}): key 1 of 2 is not" in output
    assert MALFORMED_KEY not in output


def test_it_names_the_embedded_key_file_that_holds_a_malformed_key(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    data_dir.mkdir()
    (data_dir / "encryption_keys").write_text(f"{NEW_KEY}\n{OLD_KEY}\n{MALFORMED_KEY}\n")

    code, output = _start(ENTRY_POINTS["check"], _embedded_env(data_dir))

    assert code != 0
    assert f"{data_dir / 'encryption_keys'}: key 3 of 3 is not a valid Fernet key" in output
    assert MALFORMED_KEY not in output


def test_it_starts_with_well_formed_keys_and_an_empty_database(tmp_path: Path) -> None:
    env = _embedded_env(tmp_path / "var", TENANTATLAS_ENCRYPTION_KEYS=f"{NEW_KEY},{OLD_KEY}")

    code, output = _start(ENTRY_POINTS["check"], env)

    assert (code, output.strip()) == (0, "System check identified no issues (0 silenced).")


def test_it_says_which_configured_key_is_malformed() -> None:
    with pytest.raises(ImproperlyConfigured, match="key 2 of 3") as refused:
        CredentialManager([NEW_KEY, MALFORMED_KEY, OLD_KEY])

    assert MALFORMED_KEY not in str(refused.value)


# -- keys that decrypt none of the stored credentials are reported by `check` --------------


def _key_messages() -> list[checks.CheckMessage]:
    return [m for m in check_encryption_keys() if m.id and m.id.startswith("providers.")]


def test_it_reports_keys_that_decrypt_none_of_the_stored_credentials(
    settings: Any, sealed_with_old_key: dict[int, tuple[str, str]]
) -> None:
    settings.ENCRYPTION_KEYS = [STRANGER_KEY]

    (problem,) = _key_messages()

    assert problem.id == "providers.E001"
    assert problem.level == checks.ERROR
    told = f"{problem.msg} {problem.hint}"
    assert "TENANTATLAS_ENCRYPTION_KEYS" in told
    assert "decrypt none of the 3 stored credentials" in told
    assert key_id_of(OLD_KEY) in told  # which key is missing, by its id
    assert STRANGER_KEY not in told
    assert OLD_KEY not in told
    with pytest.raises(SystemCheckError, match=r"providers\.E001"):
        call_command("check", stdout=io.StringIO(), stderr=io.StringIO())


def test_it_warns_about_credentials_sealed_with_a_key_no_longer_configured(
    settings: Any, alice: Any, acme: Any, sealed_with_old_key: dict[int, tuple[str, str]]
) -> None:
    settings.ENCRYPTION_KEYS = [STRANGER_KEY]
    make_connection(
        acme, alice, name="Stranger", entra_tenant_id="55555555-6666-7777-8888-999999999999"
    )
    settings.ENCRYPTION_KEYS = [NEW_KEY, STRANGER_KEY]  # OLD_KEY was dropped too early

    (problem,) = _key_messages()

    assert problem.id == "providers.W001"
    assert "3 stored credential(s)" in problem.msg
    assert key_id_of(OLD_KEY) in problem.msg


def test_it_is_quiet_when_the_keys_decrypt_the_stored_credentials(
    settings: Any, sealed_with_old_key: dict[int, tuple[str, str]], django_assert_max_num_queries
) -> None:
    settings.ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    with django_assert_max_num_queries(4):  # cheap: a few rows, whatever the table size
        assert _key_messages() == []


@pytest.mark.django_db
def test_it_is_quiet_on_an_empty_database(settings: Any) -> None:
    settings.ENCRYPTION_KEYS = [STRANGER_KEY]

    assert _key_messages() == []


def test_it_is_quiet_without_a_database() -> None:
    assert _key_messages() == []  # no django_db: the check cannot reach it and says nothing


# -- key rotation is audited -------------------------------------------------------------


def test_it_audits_each_rotation_run_in_every_workspace_it_touched(
    settings: Any, alice: Any, acme: Any, globex: Any, sealed_with_old_key: Any
) -> None:
    from tenantatlas.audit.models import AuditEvent

    make_connection(
        globex, None, name="Globex", entra_tenant_id="66666666-7777-8888-9999-000000000000"
    )
    settings.ENCRYPTION_KEYS = [NEW_KEY, OLD_KEY]

    call_command("rotate_encryption_keys", stdout=io.StringIO())
    call_command("rotate_encryption_keys", stdout=io.StringIO())  # a second run: nothing to do

    events = AuditEvent.objects.filter(action="credential.keys_rotated").order_by("pk")
    assert [(e.workspace, e.actor_label, e.metadata) for e in events] == [
        (acme, "system", _rotated(reencrypted=3)),
        (globex, "system", _rotated(reencrypted=1)),
        (acme, "system", _rotated(already_current=3)),
        (globex, "system", _rotated(already_current=1)),
    ]
    assert not any(NEW_KEY in str(e.metadata) or OLD_KEY in str(e.metadata) for e in events)


def test_it_audits_a_rotation_that_left_unreadable_credentials(
    settings: Any, acme: Any, sealed_with_old_key: Any
) -> None:
    from tenantatlas.audit.models import AuditEvent

    settings.ENCRYPTION_KEYS = [NEW_KEY]  # the old key was dropped too early

    with pytest.raises(CommandError):
        call_command("rotate_encryption_keys", stdout=io.StringIO())

    event = AuditEvent.objects.get(action="credential.keys_rotated")
    assert (event.workspace, event.metadata) == (acme, _rotated(unreadable=3))


def _rotated(reencrypted: int = 0, already_current: int = 0, unreadable: int = 0) -> dict:
    return {
        "reencrypted": reencrypted,
        "already_current": already_current,
        "unreadable": unreadable,
        "primary_key_id": key_id_of(NEW_KEY),
    }
