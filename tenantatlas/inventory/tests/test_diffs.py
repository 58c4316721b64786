"""Normalising and diffing observations: key order, set order, null/absent/default and
annotations never make a change; every real difference is named by its path, exactly once."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tenantatlas.inventory.diffs import (
    Change,
    Normalisation,
    canonical,
    diff,
    fingerprint,
    normalise,
)

RULES = Normalisation(
    volatile=frozenset({"lastModifiedDateTime", "version", "settings.lastChecked"}),
    sets={"roleScopeTagIds": None, "settings": "settingInstance.settingDefinitionId"},
    defaults={"passwordRequired": False},
)
POLICY = {
    "@odata.type": "#microsoft.graph.windows10CompliancePolicy",
    "id": "p1",
    "displayName": "Windows baseline",
    "passwordMinimumLength": 8,
    "passwordRequired": True,
    "version": 3,
    "lastModifiedDateTime": "2026-11-30T10:00:00Z",
    "roleScopeTagIds": ["0", "4", "7"],
    "settings": [
        {"settingInstance": {"settingDefinitionId": "a", "value": 1}, "lastChecked": "x"},
        {"settingInstance": {"settingDefinitionId": "b", "value": "on"}},
    ],
    "rules": [{"operator": "and"}, {"operator": "or"}],
}

scalars = st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=4)
payloads = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=4), inner, max_size=4)
    ),
    max_leaves=20,
)


def shuffled(raw: Any, rng: random.Random) -> Any:
    """The same payload with every object's keys and every set's members in another order."""
    if isinstance(raw, dict):
        items = [(key, shuffled(value, rng)) for key, value in raw.items()]
        rng.shuffle(items)
        return dict(items)
    if isinstance(raw, list):
        return [shuffled(member, rng) for member in raw]
    return raw


def test_it_ignores_key_order_set_order_annotations_and_volatile_fields() -> None:
    churned = shuffled(POLICY, random.Random(7))
    churned["roleScopeTagIds"] = ["7", "0", "4"]
    churned["settings"] = list(reversed(churned["settings"]))
    churned["settings"][0]["lastChecked"] = "y"
    churned["version"] = 4
    churned["lastModifiedDateTime"] = "2026-12-01T10:00:00Z"
    churned["@odata.context"] = "https://graph.microsoft.com/v1.0/$metadata#x"

    assert diff(normalise(POLICY, RULES), normalise(churned, RULES)) == []
    assert fingerprint(normalise(POLICY, RULES)) == fingerprint(normalise(churned, RULES))


def test_it_treats_null_absent_empty_and_the_default_alike() -> None:
    sparse = {"id": "p1", "passwordRequired": False, "notes": None, "tags": [], "extra": {}}
    assert normalise(sparse, RULES) == {"id": "p1"}
    assert diff(normalise({"id": "p1"}, RULES), normalise(sparse, RULES)) == []


def test_it_names_each_real_change_by_its_path() -> None:
    changed = {
        **POLICY,
        "passwordMinimumLength": 12,
        "roleScopeTagIds": ["0", "7", "9"],
        "settings": [
            {"settingInstance": {"settingDefinitionId": "b", "value": "off"}},
            {"settingInstance": {"settingDefinitionId": "c", "value": 2}},
        ],
        "rules": [{"operator": "and"}, {"operator": "xor"}],
        "passwordRequired": False,  # the default: the same as not saying it
    }
    del changed["displayName"]

    assert diff(normalise(POLICY, RULES), normalise(changed, RULES)) == [
        Change("displayName", "Windows baseline", None),
        Change("passwordMinimumLength", 8, 12),
        Change("passwordRequired", True, None),
        Change("roleScopeTagIds[4]", "4", None),
        Change("roleScopeTagIds[9]", None, "9"),
        Change("rules[1].operator", "or", "xor"),
        Change("settings[a]", {"settingInstance": {"settingDefinitionId": "a", "value": 1}}, None),
        Change("settings[b].settingInstance.value", "on", "off"),
        Change("settings[c]", None, {"settingInstance": {"settingDefinitionId": "c", "value": 2}}),
    ]


def test_it_tells_a_number_from_a_boolean() -> None:
    assert diff({"a": 1}, {"a": True}) == [Change("a", 1, True)]


def test_it_compares_only_the_tracked_fields_of_a_device() -> None:
    rules = Normalisation(tracked=frozenset({"complianceState", "osVersion"}))
    before = {"complianceState": "compliant", "osVersion": "17.1", "freeStorageSpaceInBytes": 1}
    after = {**before, "freeStorageSpaceInBytes": 99, "lastSyncDateTime": "now"}
    assert diff(normalise(before, rules), normalise(after, rules)) == []
    after["complianceState"] = "noncompliant"
    assert diff(normalise(before, rules), normalise(after, rules)) == [
        Change("complianceState", "compliant", "noncompliant")
    ]


@settings(max_examples=300, deadline=None)
@given(payloads, st.integers(0, 2**32))
def test_no_reordering_of_keys_is_ever_a_change(raw: Any, seed: int) -> None:
    raw = {"root": raw}
    again = shuffled(raw, random.Random(seed))
    rules = Normalisation()
    assert diff(normalise(raw, rules), normalise(again, rules)) == []
    assert fingerprint(normalise(raw, rules)) == fingerprint(normalise(again, rules))


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(st.text(max_size=3), payloads, max_size=5),
    st.dictionaries(st.text(max_size=3), payloads, max_size=5),
)
def test_a_diff_is_empty_exactly_when_the_forms_are_equal(
    a: dict[str, Any], b: dict[str, Any]
) -> None:
    rules = Normalisation()
    left, right = normalise(a, rules), normalise(b, rules)
    changes = diff(left, right)
    assert (changes == []) == (canonical(left) == canonical(right))
    assert (changes == []) == (fingerprint(left) == fingerprint(right))
    assert len({change.path for change in changes}) == len(changes)  # each path once
