"""Change history older than the retention period is pruned by the reaper loop, in batches."""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from django.core.management import call_command
from django.utils import timezone

from tenantatlas.inventory import changes
from tenantatlas.inventory.models import ItemChange
from tenantatlas.operations.tests.factories import make_item


def _changes(workspace: Any, connection: Any, ages_in_days: list[float]) -> None:
    item = make_item(workspace, connection)
    now = timezone.now()
    ItemChange.objects.bulk_create(
        [
            ItemChange(
                workspace=workspace,
                connection=connection,
                item=item,
                kind=item.kind,
                change_type="changed",
                detected_at=now - dt.timedelta(days=age),
            )
            for age in ages_in_days
        ]
    )


def test_it_prunes_only_what_is_older_than_the_retention(settings: Any, contoso: Any) -> None:
    settings.CHANGE_RETENTION_DAYS = 30
    _changes(contoso.workspace, contoso, [1, 29.9, 30.1, 400])

    assert changes.prune_changes() == 2
    kept = sorted(
        round((timezone.now() - c.detected_at).total_seconds() / 86400, 1)
        for c in ItemChange.objects.all()
    )
    assert kept == [1.0, 29.9]


def test_it_prunes_in_bounded_batches(settings: Any, monkeypatch: Any, contoso: Any) -> None:
    settings.CHANGE_RETENTION_DAYS = 10
    monkeypatch.setattr(changes, "PRUNE_BATCH", 3)
    monkeypatch.setattr(changes, "PRUNE_BATCHES_PER_PASS", 2)
    _changes(contoso.workspace, contoso, [20.0] * 8 + [1.0])

    assert changes.prune_changes() == 6  # two batches of three this pass
    assert changes.prune_changes() == 2  # the rest on the next
    assert ItemChange.objects.count() == 1


def test_the_reaper_pass_prunes_and_says_how_many(settings: Any, contoso: Any) -> None:
    settings.CHANGE_RETENTION_DAYS = 7
    _changes(contoso.workspace, contoso, [8, 9, 1])
    out = io.StringIO()

    call_command("reap", stdout=out)

    assert "changes_pruned=2" in out.getvalue()
    assert ItemChange.objects.count() == 1
