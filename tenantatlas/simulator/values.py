"""Value shapes every generated payload shares: Graph's date strings and stable GUIDs.

The lowest simulator module: the item catalog, the tenant population and the identity platform
all build on it, and it imports none of them.
"""

from __future__ import annotations

import datetime as dt
import hashlib

NO_DATE = "0001-01-01T00:00:00Z"
NO_GRACE_PERIOD = "9999-12-31T23:59:59Z"


def iso(moment: dt.datetime) -> str:
    """Graph's DateTimeOffset form: UTC, whole seconds, ``Z`` (naive values are UTC)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
    return moment.replace(microsecond=0).isoformat() + "Z"


def _digest(*parts: object) -> bytes:
    return hashlib.blake2b("|".join(map(str, parts)).encode(), digest_size=32).digest()


def guid_from(digest: bytes) -> str:
    """A version-4-shaped GUID from the first 16 bytes of ``digest`` (cheap: no uuid object)."""
    h = digest[:16].hex()
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{'89ab'[int(h[16], 16) & 3]}{h[17:20]}-{h[20:32]}"


def stable_guid(*parts: object) -> str:
    """A version-4-shaped GUID derived from ``parts``."""
    return guid_from(_digest(*parts))
