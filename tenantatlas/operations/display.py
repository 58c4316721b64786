"""Pure helpers that shape run data for display: labels, durations, summary tables."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from typing import Any

from tenantatlas.inventory.models import ComplianceState, InventoryKind
from tenantatlas.lib.sanitize import sanitize_data
from tenantatlas.operations.registry import OPERATION_LABELS

# Summary counts are keyed by inventory kind (`managed_device`) or by Graph's complianceState
# (`inGracePeriod`), spelled and labelled as inventory's registries have them, and by these words.
_COUNT_WORDS = {
    "stale": "Stale",
    "total": "Total",
    "seen": "Seen",
    "created": "Created",
    "updated": "Updated",
    "removed": "Removed",
    "message": "Message",
    "granted": "Granted",
    "missing": "Missing",
    "extra": "Extra",
}
_LABELS = {**dict(InventoryKind.choices), **dict(ComplianceState.choices), **_COUNT_WORDS}
# The order the product lists them in: kinds, states, then the words above.
_ORDER = list(_LABELS)


def operation_label(key: str) -> str:
    return OPERATION_LABELS.get(key, key)


def format_duration(seconds: float) -> str:
    seconds = max(0, int(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


def run_duration(
    started_at: dt.datetime | None, finished_at: dt.datetime | None, now: dt.datetime
) -> str:
    """Finished runs: start → finish; running ones: start → now; not started: empty."""
    if started_at is None:
        return ""
    return format_duration(((finished_at or now) - started_at).total_seconds())


def summary_table(
    counts: Mapping[str, Any] | None,
) -> tuple[list[str], list[tuple[str, list[Any]]]]:
    """Columns and rows for `summary_counts`.

    Nested counts (``{"managed_device": {"seen": 10, "created": 2}}``) become one row per key
    with the union of inner keys as columns; flat counts become a single "Count" column.
    """
    if not counts:
        return [], []
    # PostgreSQL's jsonb does not keep key order: order known keys as the product lists them.
    ordered = sorted(counts.items(), key=lambda item: _rank(item[0]))
    nested = {k: v for k, v in ordered if isinstance(v, Mapping)}
    flat = {k: v for k, v in ordered if not isinstance(v, Mapping)}
    if nested:
        keys: list[str] = []
        for inner in nested.values():
            keys += [c for c in inner if c not in keys]
        keys.sort(key=_rank)
        columns = [_label(c) for c in keys]
        rows = [(_label(key), [inner.get(c, "") for c in keys]) for key, inner in nested.items()]
        rows += [(_label(key), [value, *[""] * (len(keys) - 1)]) for key, value in flat.items()]
        return columns, rows
    return ["Count"], [(_label(key), [value]) for key, value in flat.items()]


def _rank(key: str) -> tuple[int, str]:
    return (_ORDER.index(key) if key in _ORDER else len(_ORDER), key)


def _label(key: str) -> str:
    return _LABELS.get(key, key)


def context_items(context: Mapping[str, Any] | None) -> list[tuple[str, str, Any]]:
    """(label, shape, value) per top-level context entry; shape is "text", "list" or "json".

    The context is non-secret by contract; it is sanitized again here as a second fence.
    """
    if not context:
        return []
    items: list[tuple[str, str, Any]] = []
    for raw_key, value in sanitize_data(dict(context)).items():
        key = str(raw_key).replace("_", " ").capitalize()
        if isinstance(value, Mapping):
            items.append((key, "json", json.dumps(value, indent=2, sort_keys=True, default=str)))
        elif isinstance(value, list | tuple):
            items.append((key, "list", [_one_line(v) for v in value]))
        else:
            items.append((key, "text", value))
    return items


def _one_line(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)
