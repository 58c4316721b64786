"""Comparing two observations of one inventory item: normalise, hash, diff.

A provider declares per inventory kind *how* its payloads compare (`Normalisation`): which fields
are volatile and never a change, which arrays are sets (order does not matter; members matched
by a key where they have one), which fields alone count (devices), and which values Microsoft
documents as defaults. `normalise()` turns a payload into its canonical form under those rules —
null, absent, empty and documented-default are the same; annotations (`@odata.*`) are dropped;
key order never matters — so equal forms mean "no change", their hash stands for the item in
the inventory, and `diff()` lists the settings that differ, each as (path, old, new).

Paths read like `passwordMinimumLength`, `templateReference.templateFamily`, `roleScopeTagIds`
and `roleScopeTagIds[3]` (a member of a set of values, come or gone), `settings[<key>].value`
(a member of a set matched by its key) and `rules[2].operator` (an ordered list, compared
member by member while its length stays).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

MISSING: Any = None  # how a removed or added setting's other side is written


class Change(NamedTuple):
    path: str
    old: Any
    new: Any

    def as_dict(self) -> dict[str, Any]:
        return {"path": self.path, "old": self.old, "new": self.new}


@dataclass(frozen=True)
class Normalisation:
    """How one inventory kind's payloads are compared. Paths are dotted, without list indexes
    (`settings.settingInstance.settingDefinitionId` names a field of every member of `settings`)."""

    volatile: frozenset[str] = frozenset()  # never a change, at these paths
    sets: Mapping[str, str | None] = field(default_factory=dict)  # array path → member key
    tracked: frozenset[str] | None = None  # when set: only these top-level fields count
    defaults: Mapping[str, Any] = field(default_factory=dict)  # path → Microsoft's default

    def __call__(self, raw: Mapping[str, Any]) -> dict[str, Any]:
        return normalise(raw, self)


def _is_annotation(key: str) -> bool:
    return key.startswith("@odata.") or "@odata." in key


def _empty(value: Any) -> bool:
    return value is None or value == [] or value == {}


def normalise(raw: Mapping[str, Any], rules: Normalisation) -> dict[str, Any]:
    """The canonical form of `raw` under `rules` (a new structure; `raw` is not changed)."""
    if rules.tracked is not None:
        raw = {key: value for key, value in raw.items() if key in rules.tracked}
    return _object(raw, "", rules)


def _object(raw: Mapping[str, Any], prefix: str, rules: Normalisation) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in raw.items():
        path = f"{prefix}{key}"
        if _is_annotation(key) or path in rules.volatile:
            continue
        value = _value(value, path, rules)
        if _empty(value) or (path in rules.defaults and value == rules.defaults[path]):
            continue
        result[key] = value
    return result


def _value(value: Any, path: str, rules: Normalisation) -> Any:
    if isinstance(value, Mapping):
        return _object(value, f"{path}.", rules)
    if not isinstance(value, list):
        return value
    members = [_value(member, path, rules) for member in value]
    members = [member for member in members if not _empty(member)]
    if path not in rules.sets:
        return members
    # A set becomes a mapping from each member's identity to the member: order disappears, and
    # a diff names the member that came, went or changed.
    key = rules.sets[path]
    return {f"[{_member_key(member, key)}]": member for member in members}


def _member_key(member: Any, key: str | None) -> str:
    value = member
    for part in key.split(".") if key else ():
        value = value.get(part) if isinstance(value, Mapping) else None
    if isinstance(value, str | int | float | bool) and not isinstance(value, Mapping):
        return str(value)
    return canonical(member)


# One encoder for every call: json.dumps with options builds a new one each time, which was a
# third of a device page's fingerprinting.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical(value: Any) -> str:
    """One spelling of a normalised value: keys sorted, no whitespace."""
    return _ENCODER.encode(value)


def fingerprint(normalised: Mapping[str, Any]) -> str:
    """The hash an inventory item keeps of its normalised form (equal forms, equal hashes)."""
    return hashlib.sha1(canonical(normalised).encode(), usedforsecurity=False).hexdigest()


def diff(old: Any, new: Any, path: str = "") -> list[Change]:
    """Every setting that differs between two normalised forms, by path."""
    if isinstance(old, dict) and isinstance(new, dict):
        changes: list[Change] = []
        for key in sorted(old.keys() | new.keys()):
            child = f"{path}{key}" if key.startswith("[") or not path else f"{path}.{key}"
            if key not in new:
                changes.append(Change(child, old[key], MISSING))
            elif key not in old:
                changes.append(Change(child, MISSING, new[key]))
            else:
                changes.extend(diff(old[key], new[key], child))
        return changes
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [
            change
            for i, (before, after) in enumerate(zip(old, new, strict=True))
            for change in diff(before, after, f"{path}[{i}]")
        ]
    same = old == new and canonical(old) == canonical(new)  # 1 == True, but not in JSON
    return [] if same else [Change(path, old, new)]
