"""What a provider module hands to the inventory services: who observed, and what."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class SeenBy:
    """Who observed: the workspace, the connection and the run (ids) the written rows point at."""

    workspace_id: int
    connection_id: int
    run_id: int


@dataclass
class ObservedItem:
    """One object as a provider module maps it from the provider's payload."""

    external_id: str
    display_name: str = ""
    raw: dict[str, Any] = field(default_factory=dict)
    platform: str = ""
    os_version: str = ""
    compliance_state: str = ""
    user_principal_name: str = ""
    last_sync_at: dt.datetime | None = None
    odata_type: str = ""
