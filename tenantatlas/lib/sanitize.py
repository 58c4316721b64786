"""Secret redaction for everything that leaves a job: failures, logs, audit metadata, API errors.

Two layers, because neither is enough alone:

* **by value** — every secret, private key, client assertion and access token a job handles is
  registered with the job's :class:`Redactor`, so it is removed wherever it turns up, whatever
  the surrounding format;
* **by pattern** — JWTs, ``Bearer`` tokens, ``client_secret=``/``client_assertion=`` fields,
  ``access_token`` JSON fields, PEM blocks and ``Authorization`` headers are removed even when
  nobody registered them (a library echoing a request body, a token from another code path).

The current redactor is context-local (:func:`redaction_scope`), so the logging filter and the
module-level helpers see the secrets of the job running in this thread/task and no other.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
ELLIPSIS = "…"
MESSAGE_LIMIT = 500
# Shorter values would redact innocent words ("abc") all over a message: register real secrets.
MIN_VALUE_LENGTH = 6
_PEM_LINE_MIN = 16

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM blocks of any kind, complete or cut off before their END line.
    (
        re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*?-----END [A-Z0-9 ]+-----", re.DOTALL),
        REDACTED,
    ),
    (re.compile(r"-----BEGIN [A-Z0-9 ]+-----.*", re.DOTALL), REDACTED),
    # Authorization headers in any rendering ("Authorization: x", "'Authorization': 'x'").
    (
        re.compile(r"""(?i)(\bauthorization["']?\s*[:=]\s*["']?)[^\r\n"']+"""),
        r"\1" + REDACTED,
    ),
    (re.compile(r"(?i)\bBearer\s+[A-Za-z0-9\-._~+/]+=*"), "Bearer " + REDACTED),
    # JWTs: three base64url segments, the first starting with a JSON header ('{"' → eyJ).
    (re.compile(r"\beyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    # key=value / "key": "value" for the OAuth fields that carry secrets.
    (
        re.compile(
            r"""(?i)(["']?\b(?:client_secret|client_assertion|access_token|refresh_token"""
            r"""|id_token|password)["']?\s*[=:]\s*["']?)([^&\s"',;}]+)"""
        ),
        r"\1" + REDACTED,
    ),
)

_SENSITIVE_KEY = re.compile(
    r"(?i)(secret|password|passwd|token|assertion|private_?key|authorization|api_?key|cookie)"
)
# Keys that name a secret's *metadata*, not the secret ("credential_id", "token_type").
_SAFE_KEY_SUFFIX = re.compile(r"(?i)(_id|_ids|_count|_type|_at|_kind|_version|_fingerprint)$")


def _variants(value: str) -> set[str]:
    """The forms a secret takes on the wire: as is, URL-encoded, JSON-escaped, line by line."""
    forms = {
        value,
        value.strip(),
        quote_plus(value),
        quote(value, safe=""),
        json.dumps(value)[1:-1],
    }
    if "\n" in value:  # PEM bodies: a single base64 line is enough to leak key material
        forms.update(line.strip() for line in value.splitlines())
    return {form for form in forms if len(form) >= _PEM_LINE_MIN or form in (value, value.strip())}


class Redactor:
    """Holds the secret values one job handles and removes them (and known patterns) from text."""

    def __init__(self, parent: Redactor | None = None) -> None:
        self._parent = parent
        self._values: set[str] = set()

    def register(self, *values: str | bytes | None) -> None:
        """Remember secret values; empty or very short values are ignored."""
        for value in values:
            if isinstance(value, bytes):
                value = value.decode("utf-8", "replace")
            if not value or len(value.strip()) < MIN_VALUE_LENGTH:
                continue
            self._values.update(form for form in _variants(value) if len(form) >= MIN_VALUE_LENGTH)

    def values(self) -> set[str]:
        """Every registered value, including those of enclosing scopes."""
        inherited = self._parent.values() if self._parent else set()
        return inherited | self._values

    def sanitize(self, text: object, limit: int | None = MESSAGE_LIMIT) -> str:
        """Redact by value, then by pattern, then truncate to ``limit`` characters."""
        result = text if isinstance(text, str) else str(text)
        for value in sorted(self.values(), key=len, reverse=True):
            if value in result:
                result = result.replace(value, REDACTED)
        for pattern, replacement in _PATTERNS:
            result = pattern.sub(replacement, result)
        if limit is not None and len(result) > limit:
            result = result[: max(limit - len(ELLIPSIS), 0)] + ELLIPSIS
        return result

    def sanitize_data(self, obj: Any) -> Any:
        """Deep-sanitize JSON-like data; values under secret-looking keys are replaced."""
        if isinstance(obj, dict):
            return {str(key): self._sanitize_item(str(key), value) for key, value in obj.items()}
        if isinstance(obj, list | tuple | set | frozenset):
            return [self.sanitize_data(item) for item in obj]
        if obj is None or isinstance(obj, bool | int | float):
            return obj
        return self.sanitize(obj, limit=None)

    def _sanitize_item(self, key: str, value: Any) -> Any:
        if _SENSITIVE_KEY.search(key) and not _SAFE_KEY_SUFFIX.search(key):
            return value if value in (None, "", [], {}) else REDACTED
        return self.sanitize_data(value)


_root = Redactor()
_current: contextvars.ContextVar[Redactor] = contextvars.ContextVar(
    "tenantatlas_redactor", default=_root
)


def current_redactor() -> Redactor:
    """The redactor of the innermost :func:`redaction_scope` (a process-wide one outside any)."""
    return _current.get()


@contextmanager
def redaction_scope() -> Iterator[Redactor]:
    """Open a redactor for one job; it also redacts everything its enclosing scopes hold."""
    redactor = Redactor(parent=_current.get())
    token = _current.set(redactor)
    try:
        yield redactor
    finally:
        _current.reset(token)


def sanitize(text: object, limit: int | None = None) -> str:
    """Sanitize with the current redactor; ``limit=None`` keeps the full length."""
    return current_redactor().sanitize(text, limit=limit)


def sanitize_data(obj: Any) -> Any:
    """Deep-sanitize JSON-like data with the current redactor."""
    return current_redactor().sanitize_data(obj)


class SanitizingFilter(logging.Filter):
    """Logging filter (configured on every handler) that rewrites records before formatting.

    The message is rendered with its args and sanitized, args are cleared so no handler can
    re-render the raw values, and a traceback is pre-rendered into ``exc_text`` (sanitized) with
    ``exc_info`` dropped, because exception text is where secrets most often hide.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = f"{record.msg!r} {record.args!r}"
        record.msg = sanitize(message)
        record.args = None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        record.exc_info = None
        if record.exc_text:
            record.exc_text = sanitize(record.exc_text)
        if record.stack_info:
            record.stack_info = sanitize(record.stack_info)
        return True
