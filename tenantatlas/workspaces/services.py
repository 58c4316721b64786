"""The workspace a member used last: where sign-in lands next time (a note, not audited)."""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from django.db.models import F
from django.utils import timezone

from tenantatlas.workspaces.models import Membership

if TYPE_CHECKING:
    from django.contrib.auth.models import User

# Writing last_used_at on every page view would turn each read into a write.
LAST_USED_RESOLUTION = dt.timedelta(minutes=1)


def touch_membership(membership: Membership, *, force: bool = False) -> None:
    """Note that the member is using the workspace (where sign-in lands next time).

    Written at most once a minute per membership unless forced (the member just changed
    workspace), so staying in one workspace does not turn every page view into a write.
    """
    now = timezone.now()
    last = membership.last_used_at
    if not force and last is not None and now - last < LAST_USED_RESOLUTION:
        return
    Membership.objects.filter(pk=membership.pk).update(last_used_at=now)
    membership.last_used_at = now


def last_used_membership(user: User) -> Membership | None:
    """The membership the user used last; never used ones by newest first, not by name."""
    return (
        Membership.objects.filter(user=user)
        .select_related("workspace")
        .order_by(F("last_used_at").desc(nulls_last=True), "-created_at", "-pk")
        .first()
    )
