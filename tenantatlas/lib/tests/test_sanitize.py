"""Redaction by value and by pattern, scopes, and the logging filter (canary values)."""

from __future__ import annotations

import json
import logging
from urllib.parse import quote_plus

from tenantatlas.lib.sanitize import (
    REDACTED,
    Redactor,
    SanitizingFilter,
    current_redactor,
    redaction_scope,
    sanitize,
    sanitize_data,
)

SECRET = "CANARY~secret.Value+/=_42xyz"
JWT = (
    "eyJhbGciOiJSUzI1NiIsInR5cCI6IkpXVCJ9."
    "eyJyb2xlcyI6WyJEZXZpY2UuUmVhZC5BbGwiXX0."
    "c2lnbmF0dXJlLWNhbmFyeQ"
)
PEM = (
    "-----BEGIN PRIVATE KEY-----\n"
    "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCanaryKeyLine1\n"
    "AnotherCanaryKeyLineWithBase64Material0123456789abcdefABCDEF==\n"
    "-----END PRIVATE KEY-----"
)


def test_it_redacts_registered_values_in_all_wire_forms() -> None:
    redactor = Redactor()
    redactor.register(SECRET)
    text = f"a {SECRET} b {quote_plus(SECRET)} c {json.dumps(SECRET)}"
    out = redactor.sanitize(text)
    assert "CANARY" not in out
    assert out.count(REDACTED) == 3


def test_it_ignores_empty_and_short_values() -> None:
    redactor = Redactor()
    redactor.register("", None, "abc")
    assert redactor.sanitize("abc def") == "abc def"


def test_it_redacts_pem_key_lines_even_without_the_armour() -> None:
    redactor = Redactor()
    redactor.register(PEM)
    out = redactor.sanitize(
        "leaked: AnotherCanaryKeyLineWithBase64Material0123456789abcdefABCDEF=="
    )
    assert "Canary" not in out


def test_patterns_catch_unregistered_secrets() -> None:
    redactor = Redactor()
    samples = [
        f"token {JWT} here",
        f"Authorization: Bearer {JWT}",
        "headers={'Authorization': 'Basic Q0FOQVJZOnNlY3JldA=='}",
        "body client_secret=CANARYsecret&scope=x",
        "client_assertion=CANARYassertion&client_assertion_type=urn:ietf",
        '{"access_token": "CANARYtoken", "token_type": "Bearer"}',
        f"key {PEM} end",
        "-----BEGIN CERTIFICATE-----\nCANARYcert\n-----END CERTIFICATE-----",
        "cut -----BEGIN RSA PRIVATE KEY-----\nCANARYcut",
        "Bearer CANARYopaque.token-value",
    ]
    for sample in samples:
        out = redactor.sanitize(sample, limit=None)
        assert "CANARY" not in out.upper(), (sample, out)
        assert "Canary" not in out
        assert REDACTED in out


def test_pattern_keeps_harmless_fields() -> None:
    out = Redactor().sanitize("client_assertion_type=urn:ietf:params&grant_type=client_credentials")
    assert "grant_type=client_credentials" in out
    assert "urn:ietf:params" in out


def test_it_truncates_with_an_ellipsis() -> None:
    out = Redactor().sanitize("x" * 1000, limit=500)
    assert len(out) == 500
    assert out.endswith("…")
    assert Redactor().sanitize("short", limit=500) == "short"


def test_sanitize_data_is_deep_and_redacts_secret_keys() -> None:
    redactor = Redactor()
    redactor.register(SECRET)
    data = {
        "client_secret": "whatever-it-is",
        "nested": {"password": "p4ssw0rd!", "note": f"has {SECRET}", "list": [JWT, 3, None]},
        "private_key": PEM,
        "Authorization": "Basic abc",
        "credential_id": 17,
        "token_type": "Bearer",
        "count": 2,
        "ok": True,
    }
    out = redactor.sanitize_data(data)
    dumped = json.dumps(out)
    assert "CANARY" not in dumped
    assert "p4ssw0rd" not in dumped
    assert "whatever" not in dumped
    assert out["credential_id"] == 17
    assert out["token_type"] == "Bearer"
    assert out["count"] == 2
    assert out["ok"] is True
    assert out["nested"]["list"][1:] == [3, None]


def test_scopes_are_context_local_and_nested_scopes_inherit() -> None:
    with redaction_scope() as outer:
        outer.register("OUTERcanary123")
        with redaction_scope() as inner:
            inner.register("INNERcanary456")
            assert current_redactor() is inner
            assert sanitize("OUTERcanary123 INNERcanary456") == f"{REDACTED} {REDACTED}"
        assert sanitize("INNERcanary456") == "INNERcanary456"
        assert sanitize("OUTERcanary123") == REDACTED
        assert sanitize_data({"x": "OUTERcanary123"}) == {"x": REDACTED}
    assert sanitize("OUTERcanary123") == "OUTERcanary123"


def test_module_sanitize_keeps_length_unless_asked() -> None:
    assert len(sanitize("y" * 2000)) == 2000
    assert len(sanitize("y" * 2000, limit=100)) == 100


def _record(msg: str, args: tuple, exc_info=None) -> logging.LogRecord:
    return logging.LogRecord("t", logging.ERROR, __file__, 1, msg, args, exc_info)


def test_logging_filter_sanitizes_message_args_and_traceback() -> None:
    with redaction_scope() as redactor:
        redactor.register(SECRET)
        try:
            raise ValueError(f"boom {SECRET} {JWT}")
        except ValueError:
            import sys

            record = _record("sent %s with %s", (SECRET, f"Bearer {JWT}"), sys.exc_info())
        assert SanitizingFilter().filter(record) is True
        handler_output = logging.Formatter("%(message)s").format(record)
    assert record.args is None
    assert record.exc_info is None
    assert "ValueError" in handler_output
    assert "CANARY" not in handler_output
    assert JWT not in handler_output
    assert "c2lnbmF0dXJlLWNhbmFyeQ" not in handler_output


def test_logging_filter_survives_broken_format_strings() -> None:
    record = _record("value %d", ("not-a-number",))
    assert SanitizingFilter().filter(record)
    assert "not-a-number" in record.getMessage()
