"""Request and response shapes of the change history endpoints (`routers/changes.py`)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Annotated, Any, Literal

from ninja import Schema
from pydantic import AfterValidator, Field

from tenantatlas.api.schemas import InventoryKindName, ObjectId, Page, Text
from tenantatlas.inventory.change_forms import MAX_QUERY, PERIODS, check_day
from tenantatlas.inventory.models import ChangeType

if TYPE_CHECKING:
    type ChangeTypeName = str
    type PeriodName = str
else:  # enums in the OpenAPI document, from the model choices and the page's periods
    ChangeTypeName = Literal[tuple(ChangeType.values)]
    PeriodName = Literal[tuple(PERIODS)]

# A day within the product's date range (lib/dates.py), in the server's time zone.
Day = Annotated[dt.date, AfterValidator(check_day)]


class SettingChangeOut(Schema):
    """One setting that differs: its path and both sides (null: absent on that side)."""

    path: str = Field(examples=["passwordMinimumLength", "settings[<key>].settingInstance.value"])
    old: Any = Field(
        description="The previous value: a string, number, boolean, list, object or null."
    )
    new: Any = Field(description="The value found by this sync; null when the setting is gone.")


class ChangeOut(Schema):
    id: int
    connection_id: int
    connection_name: str
    item_id: int
    run_id: int | None = Field(description="The sync that found it (null once that run is gone).")
    kind: InventoryKindName
    change_type: ChangeTypeName
    display_name: str = Field(description="The item's name as of the change.")
    changes: list[SettingChangeOut] = Field(
        description="For `changed`: the settings that differ; empty for `created` and `removed`."
    )
    detected_at: dt.datetime
    previous_seen_at: dt.datetime | None = Field(
        description="When the item was seen before: the change happened after this."
    )
    actor: str = Field(
        description="Who made it (UPN or app), from the tenant's audit log; empty: unknown."
    )
    actor_type: str
    activity: str
    activity_at: dt.datetime | None
    audit_event_id: str

    @staticmethod
    def resolve_connection_name(obj: Any) -> str:
        return str(obj.connection.display_name)


class ChangeQuery(Schema):
    connection_id: ObjectId | None = None
    item_id: ObjectId | None = Field(None, description="One inventory item's history.")
    run_id: ObjectId | None = Field(None, description="The changes one inventory sync found.")
    kind: InventoryKindName | None = None
    change_type: ChangeTypeName | None = None
    period: PeriodName | None = Field(
        None, description="Detected in the last 24 hours, 7 or 30 days."
    )
    since: Day | None = Field(None, description="Detected on or after this day (server time zone).")
    until: Day | None = Field(
        None, description="Detected on or before this day (server time zone)."
    )
    q: Annotated[Text, Field(max_length=MAX_QUERY)] | None = Field(
        None,
        description="Matches the item's name as of the change, case-insensitively "
        "(not the settings of the diff).",
    )


class ChangePage(Page):
    items: list[ChangeOut]
