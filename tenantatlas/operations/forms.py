"""Monitoring filters: a plain GET form, so the page filters without JavaScript."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django import forms
from django.utils import timezone

from tenantatlas.operations.models import PROBLEM_STATUSES, RunStatus
from tenantatlas.operations.registry import OPERATION_LABELS
from tenantatlas.workspaces.filters import ConnectionChoiceField, history_connections
from tenantatlas.workspaces.models import Workspace

PROBLEMS = "problems"  # failed or partially succeeded: what the overview counts as a problem
FINISHED_WITHIN = {"24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7)}


class RunFilterForm(forms.Form):
    status = forms.ChoiceField(
        required=False,
        choices=[
            ("", "Any status"),
            *RunStatus.choices,
            (PROBLEMS, "Failed or partially succeeded"),
        ],
    )
    finished = forms.ChoiceField(
        required=False,
        label="Finished",
        choices=[("", "Any time"), ("24h", "In the last 24 hours"), ("7d", "In the last 7 days")],
    )
    operation_type = forms.ChoiceField(
        required=False,
        label="Operation",
        choices=[("", "Any operation"), *OPERATION_LABELS.items()],
    )
    # The choices are the workspace's connections, set per request in __init__.
    connection = ConnectionChoiceField(required=False, empty_label="Any connection")

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        self.fields["connection"].queryset = history_connections(workspace)  # type: ignore[attr-defined]

    def connection_options(self) -> list[tuple[int, str, bool]]:
        """(id, label, selected) for the connection menu, read as plain values.

        Rendering a thousand options through the widget layer costs more than the whole run
        table; the template writes these options itself.
        """
        chosen = str(self.data.get("connection", "")) if self.is_bound else ""
        rows = history_connections(self.workspace).values_list("pk", "display_name", "deleted_at")
        return [
            (pk, f"{name} (deleted)" if deleted_at else name, str(pk) == chosen)
            for pk, name, deleted_at in rows
        ]

    def filter(self, runs: Any) -> Any:
        """Apply the valid filters; an invalid value is ignored (the form shows its error)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        if data.get("status") == PROBLEMS:
            runs = runs.filter(status__in=PROBLEM_STATUSES)
        elif data.get("status"):
            runs = runs.filter(status=data["status"])
        if data.get("finished"):
            runs = runs.filter(finished_at__gte=timezone.now() - FINISHED_WITHIN[data["finished"]])
        if data.get("operation_type"):
            runs = runs.filter(operation_type=data["operation_type"])
        if data.get("connection"):
            runs = runs.filter(connection=data["connection"])
        return runs
