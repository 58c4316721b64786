"""Pure display helpers of Monitoring: durations, summary tables, context rows."""

from __future__ import annotations

import datetime as dt

from tenantatlas.operations.display import (
    context_items,
    format_duration,
    operation_label,
    run_duration,
    summary_table,
)

T0 = dt.datetime(2026, 11, 26, 12, 0, tzinfo=dt.UTC)


def test_it_formats_durations() -> None:
    assert [format_duration(s) for s in (0, 5.9, 65, 3600 + 61, -3)] == [
        "0 s",
        "5 s",
        "1 min 05 s",
        "1 h 01 min",
        "0 s",
    ]


def test_it_measures_running_runs_to_now_and_unstarted_ones_not_at_all() -> None:
    now = T0 + dt.timedelta(seconds=90)

    assert run_duration(T0, T0 + dt.timedelta(seconds=12), now) == "12 s"
    assert run_duration(T0, None, now) == "1 min 30 s"
    assert run_duration(None, None, now) == ""


def test_it_labels_known_operations_and_passes_unknown_keys_through() -> None:
    assert operation_label("inventory.sync") == "Inventory sync"
    assert operation_label("future.thing") == "future.thing"


def test_it_tables_nested_summary_counts_with_the_union_of_columns() -> None:
    # Keys arrive in jsonb's order (PostgreSQL); the table uses the product's order and labels.
    columns, rows = summary_table(
        {
            "pages": 7,
            "mobile_app": {"failed": "graph.permission_denied", "seen": 4},
            "managed_device": {"removed": 0, "seen": 10, "created": 2, "updated": 1},
        }
    )

    assert columns == ["Seen", "Created", "Updated", "Removed", "failed"]
    assert rows == [
        ("Managed devices", [10, 2, 1, 0, ""]),
        ("Mobile apps", [4, "", "", "", "graph.permission_denied"]),
        ("pages", [7, "", "", "", ""]),
    ]


def test_it_tables_flat_and_empty_summary_counts() -> None:
    assert summary_table({"compliant": 3, "stale": 1}) == (
        ["Count"],
        [("Compliant", [3]), ("Stale", [1])],
    )
    assert summary_table({}) == ([], [])
    assert summary_table(None) == ([], [])


def test_it_shapes_context_and_sanitizes_it_again() -> None:
    items = context_items(
        {
            "graph_request_ids": ["r-1", "r-2"],
            "waits": {"count": 2, "seconds": 3.5},
            "note": "retry with Bearer abc.def.ghi-secret-token",
        }
    )

    assert items[0] == ("Graph request ids", "list", ["r-1", "r-2"])
    assert items[1][0:2] == ("Waits", "json")
    assert '"seconds": 3.5' in items[1][2]
    assert items[2][0] == "Note"
    assert "abc.def.ghi-secret-token" not in items[2][2]
    assert context_items(None) == []
