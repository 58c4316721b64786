"""What alert rules and channels are made of, and the rules their input must keep.

Each check raises ``InvalidInput`` naming the form field at fault; the API maps the names.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db.models import Model

from tenantatlas.alerts.addresses import OutboundPolicy, OutboundRefused, check_url
from tenantatlas.alerts.models import (
    AlertChannel,
    AlertDelivery,
    AlertRule,
    ChannelKind,
    Digest,
    EventKind,
    Severity,
)
from tenantatlas.lib.errors import InvalidInput
from tenantatlas.workspaces.models import Role, Workspace

NAME_LIMIT = 100
MAX_HOURS = 24 * 30
DEFAULT_HOURS = 24
MAX_ADDRESSES = 20
SECRET_MIN, SECRET_MAX = 16, 256
SECRET_PREFIX = "whsec_"
URL_KINDS = (ChannelKind.WEBHOOK, ChannelKind.TEAMS)


@dataclass(frozen=True)
class RuleInput:
    """Everything a rule says; ``params`` holds the kind's own fields (``hours``, …)."""

    name: str
    event_kind: str
    all_connections: bool = True
    connection_ids: Sequence[int] = ()
    min_severity: int = Severity.WARNING
    digest: str = Digest.IMMEDIATE
    recipient_roles: Sequence[str] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    channel_ids: Sequence[int] = ()
    is_enabled: bool = True


@dataclass(frozen=True)
class ChannelInput:
    """A channel as entered. ``url`` and ``secret``: None (or empty) keeps the current one."""

    name: str
    kind: str
    to_members: bool = True
    addresses: Sequence[str] = ()
    url: str | None = None
    secret: str | None = None
    is_enabled: bool = True


@dataclass(frozen=True)
class SavedChannel:
    """The channel, and the signing secret generated for it (to show once), if one was."""

    channel: AlertChannel
    new_secret: str | None = None


@dataclass(frozen=True)
class TestSent:
    """The test delivery: a new one, or the one still on its way (``created`` False)."""

    delivery: AlertDelivery
    created: bool


# -- what the forms and the API offer --------------------------------------------------------------


def change_kind_choices() -> list[tuple[str, str]]:
    """The inventory's kinds (for ``kinds`` of inventory.changes), as its items declare them.

    Reached through relations (the rule's connections, their items), not imports: alerts sits
    below inventory.
    """
    connection: Any = AlertRule._meta.get_field("connections").related_model
    item: Any = connection._meta.get_field("inventory_items").related_model
    return [(str(value), str(label)) for value, label in item._meta.get_field("kind").choices]


def live_connections(workspace: Workspace) -> Any:
    """The connections a rule may name: the workspace's, not deleted (enabled or not)."""
    return workspace.connections.filter(deleted_at__isnull=True)


def rule_input_of(rule: AlertRule) -> RuleInput:
    """The rule as it stands, to change a few fields of (the API's PATCH)."""
    return RuleInput(
        name=rule.name,
        event_kind=rule.event_kind,
        all_connections=rule.all_connections,
        connection_ids=[c.pk for c in rule.connections.all()],
        min_severity=rule.min_severity,
        digest=rule.digest,
        recipient_roles=list(rule.recipient_roles or []),
        params=dict(rule.params or {}),
        channel_ids=[c.pk for c in rule.channels.all()],
        is_enabled=rule.is_enabled,
    )


def channel_input_of(channel: AlertChannel) -> ChannelInput:
    """The channel as it stands (URL and secret kept), to change a few fields of."""
    return ChannelInput(
        name=channel.name,
        kind=channel.kind,
        to_members=channel.to_members,
        addresses=list(channel.addresses or []),
        is_enabled=channel.is_enabled,
    )


# -- checks ---------------------------------------------------------------------------------------


def check_name(
    value: str, model: type[AlertRule] | type[AlertChannel], ws: Workspace, pk: Any
) -> str:
    name = (value or "").strip()
    if not name:
        raise InvalidInput("Enter a name.", field="name")
    if len(name) > NAME_LIMIT or "\x00" in name:
        raise InvalidInput(f"Use at most {NAME_LIMIT} characters.", field="name")
    if model.objects.for_workspace(ws).filter(name__iexact=name).exclude(pk=pk).exists():
        raise duplicate_name(model, name)
    return name


def duplicate_name(model: type[Model], name: str) -> InvalidInput:
    what = "rule" if model is AlertRule else "channel"
    return InvalidInput(
        f"This workspace has an alert {what} named “{name}” already: choose another name.",
        code="duplicate_name",
        field="name",
    )


def check_choice(value: Any, allowed: Sequence[Any], field_name: str, what: str) -> Any:
    if value not in allowed:
        raise InvalidInput(f"Choose one of the offered {what}.", field=field_name)
    return value


def _ids(values: Sequence[int]) -> list[int]:
    return sorted({int(v) for v in values})


def check_connections(ws: Workspace, data: RuleInput) -> list[Any]:
    if data.all_connections:
        return []
    wanted = _ids(data.connection_ids)
    if not wanted:
        raise InvalidInput(
            "Choose at least one connection, or apply the rule to all connections.",
            field="connections",
        )
    found = list(live_connections(ws).filter(pk__in=wanted))
    if len(found) != len(wanted):
        raise InvalidInput(
            "Choose connections of this workspace (a deleted connection cannot be chosen).",
            field="connections",
        )
    return found


def check_channels(ws: Workspace, ids: Sequence[int]) -> list[AlertChannel]:
    """Channels of the workspace; none is allowed (the rules list says it sends nothing)."""
    wanted = _ids(ids)
    found = list(AlertChannel.objects.for_workspace(ws).filter(pk__in=wanted))
    if len(found) != len(wanted):
        raise InvalidInput("Choose channels of this workspace.", field="channels")
    return found


def _roles(values: Sequence[str]) -> list[str]:
    chosen = set(values)
    unknown = chosen - set(Role.values)
    if unknown:
        raise InvalidInput("Choose roles from the offered ones.", field="recipient_roles")
    return [role for role in Role.values if role in chosen]


def _number(params: Mapping[str, Any], key: str, *, low: float, high: float, what: str) -> Any:
    """A finite number in [low, high] (None when not given); bools are not numbers."""
    value = params.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"Enter {what} as a number.", field=key)
    if not math.isfinite(value) or not low <= value <= high:
        raise InvalidInput(f"Enter {what} between {low:g} and {high:g}.", field=key)
    return value


def clean_params(kind: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The kind's own conditions, checked; fields of other kinds are dropped."""
    if kind == EventKind.DATA_STALE:
        hours = _number(params, "hours", low=1, high=MAX_HOURS, what="the hours")
        if hours is not None and hours != int(hours):
            raise InvalidInput("Enter whole hours.", field="hours")
        return {"hours": int(hours) if hours is not None else DEFAULT_HOURS}
    if kind == EventKind.COMPLIANCE:
        share = _number(params, "share_above", low=0, high=99.9, what="the share (%)")
        points = _number(params, "points_up", low=0.1, high=100, what="the rise (points)")
        if share is None and points is None:
            raise InvalidInput(
                "Set a share to alert above, a rise in points, or both.", field="share_above"
            )
        return {
            key: float(value)
            for key, value in (("share_above", share), ("points_up", points))
            if value is not None
        }
    if kind == EventKind.CHANGES:
        kinds = params.get("kinds") or []
        known = [value for value, _label in change_kind_choices()]
        if isinstance(kinds, str) or any(k not in known for k in kinds):
            raise InvalidInput("Choose kinds from the offered ones.", field="kinds")
        return {"kinds": [k for k in known if k in kinds]}  # none: every kind
    return {}


def check_rule(ws: Workspace, data: RuleInput, pk: int | None) -> dict[str, Any]:
    kind = check_choice(data.event_kind, EventKind.values, "event_kind", "events")
    return {
        "name": check_name(data.name, AlertRule, ws, pk),
        "event_kind": kind,
        "all_connections": bool(data.all_connections),
        "min_severity": check_choice(
            data.min_severity, Severity.values, "min_severity", "severities"
        ),
        "digest": check_choice(data.digest, Digest.values, "digest", "digests"),
        "recipient_roles": _roles(data.recipient_roles),
        "params": clean_params(kind, data.params),
        "is_enabled": bool(data.is_enabled),
    }


def check_addresses(values: Sequence[str]) -> list[str]:
    found: list[str] = []
    for raw in values:
        address = raw.strip()
        if not address:
            continue
        try:
            validate_email(address)
        except ValidationError:
            raise InvalidInput(
                f"“{address[:80]}” is not an e-mail address.", field="addresses"
            ) from None
        if address.lower() not in (a.lower() for a in found):
            found.append(address)
    if len(found) > MAX_ADDRESSES:
        raise InvalidInput(f"List at most {MAX_ADDRESSES} addresses.", field="addresses")
    return found


def check_receiver_url(value: str) -> str:
    try:
        return check_url(value, OutboundPolicy.from_settings())
    except OutboundRefused as exc:
        raise InvalidInput(exc.message, code="url_refused", field="url") from None


def check_secret(value: str) -> str:
    secret = value.strip()
    if not SECRET_MIN <= len(secret) <= SECRET_MAX or not secret.isascii():
        raise InvalidInput(
            f"Use {SECRET_MIN} to {SECRET_MAX} ASCII characters, or leave it empty to have one "
            "generated.",
            field="secret",
        )
    if any(ch.isspace() or not ch.isprintable() for ch in secret):
        raise InvalidInput("The secret must not contain spaces.", field="secret")
    return secret


def generate_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)
