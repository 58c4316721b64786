"""The words of a finished run's notification: product names, reasons in the catalog's words.

A run keeps internal keys (``inventory.sync``, ``managed_device``) and a technical failure
message (contract keys, Graph's words) for the run page and the API; a person's notification
says "Inventory sync", "Managed devices" and the reason's title and message, its code only in
parentheses beside them.
"""

from __future__ import annotations

from typing import Any

from tenantatlas.inventory.models import InventoryKind
from tenantatlas.lib.reasons import get_reason
from tenantatlas.operations.models import OperationRun
from tenantatlas.operations.registry import OPERATIONS


def operation_label(operation_type: str) -> str:
    operation = OPERATIONS.get(operation_type)
    if operation is not None:
        return operation.label
    return operation_type.rsplit(".", 1)[-1].replace("_", " ").capitalize()


def kind_label(kind: str) -> str:
    if kind in InventoryKind.values:
        return str(InventoryKind(kind).label)
    return kind.replace("_", " ").capitalize()


def reason_words(code: str) -> str:
    """The reason's title with its code beside it: Permission missing (graph.permission_denied)."""
    return f"{get_reason(code).title} ({code})"


def _failed_kinds(summary: Any) -> list[tuple[str, str]]:
    """(kind, reason code) of each kind a sync could not read, from the run's summary counts."""
    if not isinstance(summary, dict):
        return []
    return [
        (kind, str(counts["error"]))
        for kind, counts in summary.items()
        if isinstance(counts, dict) and counts.get("error")
    ]


def completion_notice(run: OperationRun) -> tuple[str, str]:
    """(title, body) of the notification for the person who requested the run."""
    label = operation_label(run.operation_type)
    status = run.get_status_display().lower()
    body = f"{label} on “{run.connection.display_name}” {status}."
    failed_kinds = _failed_kinds(run.summary_counts)
    if failed_kinds:
        kinds = "; ".join(
            f"{kind_label(kind)}: {reason_words(code)}" for kind, code in failed_kinds
        )
        body += f" Not read: {kinds}. Items of those kinds were kept as last observed."
    elif run.reason_code:
        body += f" {reason_words(run.reason_code)}: {get_reason(run.reason_code).message}"
    note = run.context.get("note")
    if note:  # what the run meant beyond its own result, said by the domain that asked for it
        body += f" {note}"
    return f"{label} {status}", body
