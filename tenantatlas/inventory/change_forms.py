"""Change history filters: one set of rules for the Changes page, its CSV export and the API.

`ChangeFilters` narrows a workspace's `ItemChange` rows; the page's `ChangeFilterForm` and the
API's query schema both build one. Every filter keeps the query on an index that starts with the
workspace, the connection, the item or the run, ordered by (detected_at, id):

- `q` matches the item's name as of the change (`display_name`, case-insensitive substring),
  checked row by row along the ordered index scan, which stops once a page is full; a narrower
  filter (connection, kind, period) bounds the scan for rare terms. It does not search the diff:
  matching the setting paths inside `changes` means reading every row's JSON, measured at 5–8
  times the cost of the name alone on PostgreSQL (200,000 changes: 0.8–1.1 s against 0.14 s,
  whether as `changes::text`, a JSON path or the array's elements), so it is left out.
- `since`/`until` are days in the server's time zone (`TIME_ZONE`), within the product's date
  range (`lib/dates.py`); `until` includes its whole day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django import forms
from django.db.models import F, Func, IntegerField
from django.db.models.fields.json import KT
from django.http import QueryDict
from django.utils import timezone

from tenantatlas.inventory.models import ChangeType, InventoryItem, InventoryKind, ItemChange
from tenantatlas.lib import dates
from tenantatlas.lib.keyset import MAX_ID, Keyset, KeysetPage, decode_datetime, paginate
from tenantatlas.workspaces.filters import ConnectionChoiceField, history_connections
from tenantatlas.workspaces.models import Workspace

PERIODS = {
    "24h": ("Last 24 hours", dt.timedelta(hours=24)),
    "7d": ("Last 7 days", dt.timedelta(days=7)),
    "30d": ("Last 30 days", dt.timedelta(days=30)),
}
PERIOD_CHOICES = [("", "All time"), *((key, label) for key, (label, _) in PERIODS.items())]
SINCE_AFTER_UNTIL = "The start date is after the end date: swap them."
MAX_QUERY = 200
HISTORY_PER_PAGE = 50
# Newest first, the order of the indexes (workspace|connection|item, -detected_at, -id).
NEWEST_FIRST = Keyset("detected_at", descending=True, decode=decode_datetime)


class JSONArrayLength(Func):
    """The length of a JSON array column (SQLite's json_array_length, PostgreSQL's jsonb one)."""

    function = "JSON_ARRAY_LENGTH"
    output_field = IntegerField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        return self.as_sql(compiler, connection, function="JSONB_ARRAY_LENGTH", **extra)


def summarised(changes: Any) -> Any:
    """Rows for a list: without the diff itself, with its size and its first two paths."""
    return changes.defer("changes").annotate(
        settings_count=JSONArrayLength(F("changes")),
        first_path=KT("changes__0__path"),
        second_path=KT("changes__1__path"),
    )


def day_start(day: dt.date) -> dt.datetime:
    """Midnight of `day` in the current time zone, as an aware datetime."""
    return timezone.make_aware(dt.datetime.combine(day, dt.time.min))


def check_day(day: dt.date | None) -> dt.date | None:
    """`day` when it lies in the product's date range; ValueError (`OUT_OF_RANGE`) otherwise."""
    if day is not None and not dates.EARLIEST.date() <= day <= dates.LATEST_DAY:
        raise ValueError(dates.OUT_OF_RANGE)
    return day


@dataclass(frozen=True)
class ChangeFilters:
    """What to keep of a workspace's changes; every field optional."""

    connection_id: int | None = None
    kind: str | None = None
    change_type: str | None = None
    period: str | None = None
    since: dt.date | None = None
    until: dt.date | None = None
    run_id: int | None = None
    item_id: int | None = None
    q: str | None = None

    def apply(self, changes: Any, *, now: dt.datetime | None = None) -> Any:
        if self.connection_id:
            changes = changes.filter(connection_id=self.connection_id)
        if self.item_id:
            changes = changes.filter(item_id=self.item_id)
        if self.run_id:
            changes = changes.filter(run_id=self.run_id)
        if self.kind:
            changes = changes.filter(kind=self.kind)
        if self.change_type:
            changes = changes.filter(change_type=self.change_type)
        if self.period in PERIODS:
            since = (now or timezone.now()) - PERIODS[self.period][1]
            changes = changes.filter(detected_at__gte=since)
        if self.since:
            changes = changes.filter(detected_at__gte=day_start(self.since))
        if self.until and self.until < dates.LATEST_DAY:
            changes = changes.filter(detected_at__lt=day_start(self.until + dt.timedelta(days=1)))
        if self.q:
            changes = changes.filter(display_name__icontains=self.q)
        return changes


class ChangeFilterForm(forms.Form):
    """The Changes page's filters (a GET form). When any value is invalid the page says which and
    shows the unfiltered list."""

    connection = ConnectionChoiceField(required=False, empty_label="All connections")
    kind = forms.ChoiceField(
        required=False, choices=[("", "All kinds"), *InventoryKind.choices], label="Kind"
    )
    change_type = forms.ChoiceField(
        required=False, choices=[("", "Any change"), *ChangeType.choices], label="Change"
    )
    period = forms.ChoiceField(required=False, choices=PERIOD_CHOICES, label="Detected")
    since = forms.DateField(
        required=False, label="From", widget=forms.DateInput(attrs={"type": "date"})
    )
    until = forms.DateField(
        required=False, label="To", widget=forms.DateInput(attrs={"type": "date"})
    )
    run = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID, label="Run")
    item = forms.IntegerField(required=False, min_value=1, max_value=MAX_ID, label="Item")
    q = forms.CharField(required=False, max_length=MAX_QUERY, label="Search")

    def __init__(self, *args: Any, workspace: Workspace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.workspace = workspace
        self.fields["connection"].queryset = history_connections(workspace)  # type: ignore[attr-defined]
        self.chosen_item: InventoryItem | None = None

    def _day(self, name: str) -> dt.date | None:
        try:
            return check_day(self.cleaned_data.get(name))
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None

    def clean_since(self) -> dt.date | None:
        return self._day("since")

    def clean_until(self) -> dt.date | None:
        return self._day("until")

    def clean_run(self) -> int | None:
        run = self.cleaned_data.get("run")
        if run and not self.workspace.runs.filter(pk=run).exists():
            raise forms.ValidationError(f"There is no run #{run} in this workspace.")
        return run

    def clean_item(self) -> int | None:
        pk = self.cleaned_data.get("item")
        if pk:
            self.chosen_item = (
                InventoryItem.objects.for_workspace(self.workspace).filter(pk=pk).first()
            )
            if self.chosen_item is None:
                raise forms.ValidationError(f"There is no item #{pk} in this workspace.")
        return pk

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", SINCE_AFTER_UNTIL)
        return data

    def filters(self) -> ChangeFilters:
        """The chosen filters; none at all when any value is invalid."""
        if not self.is_bound or not self.is_valid():
            return ChangeFilters()
        data = self.cleaned_data
        connection = data.get("connection")
        return ChangeFilters(
            connection_id=connection.pk if connection else None,
            kind=data.get("kind") or None,
            change_type=data.get("change_type") or None,
            period=data.get("period") or None,
            since=data.get("since"),
            until=data.get("until"),
            run_id=data.get("run"),
            item_id=data.get("item"),
            q=data.get("q") or None,
        )

    def connection_options(self) -> list[tuple[int, str, bool]]:
        """(id, label, selected) for the connection menu, read as plain values."""
        chosen = str(self.data.get("connection", "")) if self.is_bound else ""
        rows = history_connections(self.workspace).values_list("pk", "display_name", "deleted_at")
        return [
            (pk, f"{name} (deleted)" if deleted_at else name, str(pk) == chosen)
            for pk, name, deleted_at in rows
        ]


def workspace_changes(workspace: Workspace) -> Any:
    return ItemChange.objects.for_workspace(workspace)


def item_history_page(item: InventoryItem, query: QueryDict) -> KeysetPage:
    """A page of the item's changes, newest first, with their diffs; `InvalidCursor`."""
    changes = ItemChange.objects.filter(workspace_id=item.workspace_id, item_id=item.pk)
    return paginate(changes, NEWEST_FIRST, query, per_page=HISTORY_PER_PAGE)
