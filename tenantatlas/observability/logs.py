"""JSON log lines (``TENANTATLAS_LOG_FORMAT=json``): one object per record, sanitized.

The sanitizing filter on every handler (lib/sanitize.py) rewrites a record's message and
traceback; a JSON line also carries the record's ``extra`` fields (a finished run's
connection, a request's path), which no filter sees, so this formatter sanitizes every value
once more as it writes them, and removes those under secret-looking keys.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pythonjsonlogger.json import JsonFormatter

from tenantatlas.lib import request_context
from tenantatlas.lib.sanitize import sanitize_data

FIELDS = ("asctime", "levelname", "name", "message")


class SanitizedJsonFormatter(JsonFormatter):
    """``{"time", "level", "logger", "message", "request_id"?, …extra, "exc_info"?}``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("fmt", list(FIELDS))
        kwargs.setdefault(
            "rename_fields", {"asctime": "time", "levelname": "level", "name": "logger"}
        )
        super().__init__(*args, **kwargs)

    def formatTime(self, record: logging.LogRecord, datefmt: str | None = None) -> str:
        """RFC 3339 in UTC with milliseconds, whatever the server's time zone."""
        moment = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
        return f"{moment}.{int(record.msecs):03d}Z"

    def add_fields(
        self, log_data: dict[str, Any], record: logging.LogRecord, message_dict: dict[str, Any]
    ) -> None:
        super().add_fields(log_data, record, message_dict)
        request_id = request_context.current().request_id
        if request_id and "request_id" not in log_data:
            log_data["request_id"] = request_id

    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return dict(sanitize_data(super().process_log_record(log_data)))
