"""What pages and the API show of a channel's errors: sanitized again, every URL in them cut to
``scheme://host/…`` (a receiver's answer may quote the URL it was called at, query and all)."""

from __future__ import annotations

import re
from collections.abc import Callable

from tenantatlas.alerts.addresses import redact_url
from tenantatlas.alerts.models import AlertChannel
from tenantatlas.lib.sanitize import Redactor, current_redactor

_URL = re.compile(r"\bhttps?://[^\s\"'<>]+", re.IGNORECASE)


def shown_errors(channel: AlertChannel) -> Callable[[str], str]:
    """The channel's error text as it may be shown (the channel's own URL redacted too)."""
    redactor = Redactor(parent=current_redactor())
    redactor.register(channel.url)

    def shown(error: str) -> str:
        cut = _URL.sub(lambda m: redact_url(m.group(0)), error or "")
        return redactor.sanitize(cut, limit=None)

    return shown
