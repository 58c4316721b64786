"""The reason-code catalog and its generated documentation."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command

from tenantatlas.lib.management.commands import reason_codes_doc
from tenantatlas.lib.reasons import REASONS, ProviderError, RetryLater, get_reason

SPEC_CODES = {
    "credential.missing",
    "credential.decrypt_failed",
    "auth.invalid_client_secret",
    "auth.client_secret_expired",
    "auth.certificate_invalid",
    "auth.app_not_found",
    "auth.app_disabled",
    "auth.tenant_not_found",
    "auth.tenant_id_invalid",
    "auth.blocked_by_policy",
    "auth.consent_missing",
    "auth.failed",
    "graph.unauthorized",
    "graph.permission_denied",
    "graph.license_missing",
    "graph.not_found",
    "graph.throttled",
    "graph.unavailable",
    "graph.timeout",
    "graph.network_error",
    "graph.invalid_response",
    "provider.tenant_mismatch",
    "provider.connection_disabled",
    "operation.unsupported",
    "credential.expiring",
    "run.worker_lost",
    "run.timed_out",
    "run.cancelled",
    "queue.unavailable",  # a start whose enqueue failed (503; the run is failed, the scope free)
    "internal.error",
    # Rotation with overlap: why a new credential was not used (providers/services/rotation.py).
    "rotation.superseded",
    "rotation.withdrawn",
    "rotation.check_failed",
}


def test_it_catalogs_every_code_of_the_spec() -> None:
    assert set(REASONS) == SPEC_CODES


@pytest.mark.parametrize("code", sorted(SPEC_CODES))
def test_it_gives_every_code_admin_grade_text(code: str) -> None:
    reason = REASONS[code]
    assert reason.code == code
    assert reason.title
    assert reason.message
    assert len(reason.remediation) > 20


def test_it_marks_transient_failures_retryable() -> None:
    assert REASONS["graph.throttled"].retryable
    assert REASONS["graph.unavailable"].retryable
    assert not REASONS["auth.invalid_client_secret"].retryable
    assert not REASONS["graph.permission_denied"].retryable


def test_it_says_once_which_failures_end_a_sync_and_which_mark_the_connection() -> None:
    connection_broken = {
        code
        for code in SPEC_CODES
        if code.startswith(("auth.", "credential."))
        or code in {"graph.unauthorized", "provider.tenant_mismatch"}
    }
    assert {c for c, r in REASONS.items() if r.affects_health} == connection_broken
    assert {c for c, r in REASONS.items() if r.fatal_for_sync} == connection_broken | {
        "provider.connection_disabled"
    }
    # One kind the app may not read is recorded and the sync goes on; it is not the connection.
    assert not REASONS["graph.permission_denied"].fatal_for_sync
    assert not REASONS["graph.permission_denied"].affects_health


def test_it_maps_unknown_codes_to_internal_error() -> None:
    assert get_reason("nope.nope").code == "internal.error"
    assert get_reason(None).code == "internal.error"
    assert ProviderError("nope.nope").reason_code == "internal.error"


def test_provider_error_defaults_message_from_catalog() -> None:
    error = ProviderError("graph.throttled", details={"http_status": 429})
    assert error.message == REASONS["graph.throttled"].message
    assert error.details == {"http_status": 429}
    assert error.retry_at is None
    assert str(error).startswith("graph.throttled: ")


def test_retry_later_carries_retry_at() -> None:
    when = datetime(2030, 1, 1, tzinfo=UTC)
    error = RetryLater("graph.throttled", retry_at=when)
    assert isinstance(error, ProviderError)
    assert error.retry_at == when


def test_committed_reason_codes_doc_is_current() -> None:
    path = reason_codes_doc.doc_path()
    assert path.exists(), "docs/reason-codes.md missing: run manage.py reason_codes_doc"
    assert path.read_text() == reason_codes_doc.render(), (
        "docs/reason-codes.md is stale: run manage.py reason_codes_doc"
    )
    for code in REASONS:
        assert f"## {code}" in path.read_text()


def test_check_flag_fails_when_stale(tmp_path, monkeypatch) -> None:
    stale = tmp_path / "reason-codes.md"
    stale.write_text("old")
    monkeypatch.setattr(reason_codes_doc, "doc_path", lambda: stale)
    with pytest.raises(CommandError, match="stale"):
        call_command("reason_codes_doc", "--check")
    call_command("reason_codes_doc")
    call_command("reason_codes_doc", "--check")
    assert stale.read_text() == reason_codes_doc.render()
