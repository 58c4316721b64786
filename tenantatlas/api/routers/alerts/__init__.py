"""Alert rules and channels: list, read, create, change, delete; send a channel a test and read
its deliveries. Secrets are write-only: a channel answers ``secret_set`` and ``url_display``;
a signing secret the server generated is returned once, by the call that generated it."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator
from typing import Any

from django.http import HttpRequest
from ninja import Path, Query, Router, Status

from tenantatlas.alerts import configuration
from tenantatlas.alerts.models import AlertChannel, AlertDelivery, AlertRule
from tenantatlas.api.auth import principal
from tenantatlas.api.errors import CHANGE_ERRORS, COMMON_ERRORS
from tenantatlas.api.pagination import NEWEST_FIRST, cursor_page
from tenantatlas.api.routers.alerts.schemas import (
    SEVERITY_OF,
    ChannelIn,
    ChannelOut,
    ChannelPage,
    ChannelSecretOut,
    ChannelUpdateIn,
    DeliveryOut,
    DeliveryPage,
    RuleIn,
    RuleOut,
    RulePage,
    RuleParams,
    RuleUpdateIn,
    SecretIn,
)
from tenantatlas.api.schemas import MAX_ID, CursorParams
from tenantatlas.lib.errors import InvalidInput
from tenantatlas.lib.keyset import Keyset, decode_str
from tenantatlas.workspaces.access import get_object_for_member
from tenantatlas.workspaces.capabilities import PROVIDER_MANAGE, PROVIDER_VIEW
from tenantatlas.workspaces.models import Membership

router = Router(tags=["alerts"])

BY_NAME = Keyset("name", decode=decode_str)
RuleId = Path(..., ge=1, le=MAX_ID, description="An alert rule id of the token's workspace.")
ChannelId = Path(..., ge=1, le=MAX_ID, description="An alert channel id of the token's workspace.")
DeliveryId = Path(..., ge=1, le=MAX_ID, description="A delivery id of the token's workspace.")
# The services' field names → the API's (a JSON path of the request body).
RULE_FIELDS = {
    "connections": "connection_ids",
    "channels": "channel_ids",
    "hours": "params.hours",
    "share_above": "params.share_above",
    "points_up": "params.points_up",
    "kinds": "params.kinds",
}

# -- helpers --------------------------------------------------------------------------------------


@contextlib.contextmanager
def _api_fields(names: dict[str, str]) -> Iterator[None]:
    """A service refusal names the request's field, not the form's."""
    try:
        yield
    except InvalidInput as exc:
        field = names.get(exc.field or "", exc.field)
        raise InvalidInput(exc.message, code=exc.code, field=field) from None


def _rules() -> Any:
    return AlertRule.objects.prefetch_related("connections", "channels")


def _rule(member: Membership, pk: int) -> AlertRule:
    rule: AlertRule = get_object_for_member(_rules(), member, pk=pk)
    return rule


def _channel(member: Membership, pk: int) -> AlertChannel:
    channel: AlertChannel = get_object_for_member(AlertChannel.objects, member, pk=pk)
    return channel


def _deliveries() -> Any:
    return AlertDelivery.objects.select_related("channel", "requested_by")


def _params(params: RuleParams) -> dict[str, Any]:
    return params.model_dump(exclude_none=True)


def _rule_changes(payload: RuleUpdateIn) -> dict[str, Any]:
    given = payload.model_dump(exclude_unset=True)
    changes = {k: v for k, v in given.items() if v is not None and k != "params"}
    if "min_severity" in changes:
        changes["min_severity"] = SEVERITY_OF[changes["min_severity"]]
    if payload.params is not None:
        changes["params"] = _params(payload.params)
    return changes


# -- rules ----------------------------------------------------------------------------------------


@router.get(
    "/alerts/rules", response={200: RulePage, **COMMON_ERRORS}, operation_id="list_alert_rules"
)
def list_rules(request: HttpRequest, page: Query[CursorParams]) -> Any:
    """The workspace's alert rules by name (cursor pages)."""
    me = principal(request, PROVIDER_VIEW)
    return cursor_page(_rules().for_workspace(me.workspace), BY_NAME, page.cursor, page.limit)


@router.get(
    "/alerts/rules/{rule_id}",
    response={200: RuleOut, **COMMON_ERRORS},
    operation_id="get_alert_rule",
)
def get_rule(request: HttpRequest, rule_id: int = RuleId) -> Any:
    me = principal(request, PROVIDER_VIEW)
    return _rule(me.member, rule_id)


@router.post(
    "/alerts/rules", response={201: RuleOut, **CHANGE_ERRORS}, operation_id="create_alert_rule"
)
def create_rule(request: HttpRequest, payload: RuleIn) -> Any:
    """A rule: which events, on which connections, from which severity, to which channels."""
    me = principal(request, PROVIDER_MANAGE)
    fields = payload.model_dump(exclude={"params"})
    fields["min_severity"] = SEVERITY_OF[payload.min_severity]
    data = configuration.RuleInput(**fields, params=_params(payload.params))
    with _api_fields(RULE_FIELDS):
        rule = configuration.create_rule(actor=me.user, workspace=me.workspace, data=data)
    return Status(201, _rules().get(pk=rule.pk))


@router.patch(
    "/alerts/rules/{rule_id}",
    response={200: RuleOut, **CHANGE_ERRORS},
    operation_id="update_alert_rule",
)
def update_rule(request: HttpRequest, payload: RuleUpdateIn, rule_id: int = RuleId) -> Any:
    me = principal(request, PROVIDER_MANAGE)
    rule = _rule(me.member, rule_id)
    data = dataclasses.replace(configuration.rule_input_of(rule), **_rule_changes(payload))
    with _api_fields(RULE_FIELDS):
        configuration.update_rule(actor=me.user, rule=rule, data=data)
    return _rules().get(pk=rule.pk)


@router.delete(
    "/alerts/rules/{rule_id}",
    response={204: None, **CHANGE_ERRORS},
    operation_id="delete_alert_rule",
)
def delete_rule(request: HttpRequest, rule_id: int = RuleId) -> Any:
    """Its deliveries stay in their channels' logs."""
    me = principal(request, PROVIDER_MANAGE)
    configuration.delete_rule(actor=me.user, rule=_rule(me.member, rule_id))
    return Status(204, None)


# -- channels -------------------------------------------------------------------------------------


@router.get(
    "/alerts/channels",
    response={200: ChannelPage, **COMMON_ERRORS},
    operation_id="list_alert_channels",
)
def list_channels(request: HttpRequest, page: Query[CursorParams]) -> Any:
    """The workspace's alert channels by name (cursor pages), with their state."""
    me = principal(request, PROVIDER_VIEW)
    channels = AlertChannel.objects.for_workspace(me.workspace)
    return cursor_page(channels, BY_NAME, page.cursor, page.limit)


@router.get(
    "/alerts/channels/{channel_id}",
    response={200: ChannelOut, **COMMON_ERRORS},
    operation_id="get_alert_channel",
)
def get_channel(request: HttpRequest, channel_id: int = ChannelId) -> Any:
    me = principal(request, PROVIDER_VIEW)
    return _channel(me.member, channel_id)


def _with_secret(saved: configuration.SavedChannel) -> AlertChannel:
    """The channel, answered with the secret generated for it (if one was), this once."""
    saved.channel.signing_secret = saved.new_secret  # type: ignore[attr-defined]
    return saved.channel


@router.post(
    "/alerts/channels",
    response={201: ChannelSecretOut, **CHANGE_ERRORS},
    operation_id="create_alert_channel",
)
def create_channel(request: HttpRequest, payload: ChannelIn) -> Any:
    """A channel. A webhook without a `secret` gets one generated, returned in this answer only."""
    me = principal(request, PROVIDER_MANAGE)
    data = configuration.ChannelInput(
        **payload.model_dump(exclude={"secret"}),
        secret=payload.secret.get_secret_value() if payload.secret else None,
    )
    saved = configuration.create_channel(actor=me.user, workspace=me.workspace, data=data)
    return Status(201, _with_secret(saved))


@router.patch(
    "/alerts/channels/{channel_id}",
    response={200: ChannelOut, **CHANGE_ERRORS},
    operation_id="update_alert_channel",
)
def update_channel(
    request: HttpRequest, payload: ChannelUpdateIn, channel_id: int = ChannelId
) -> Any:
    """A new `url` or `secret` makes a failing channel start over as delivering."""
    me = principal(request, PROVIDER_MANAGE)
    channel = _channel(me.member, channel_id)
    given = {k: v for k, v in payload.model_dump(exclude_unset=True).items() if v is not None}
    if payload.secret is not None:
        given["secret"] = payload.secret.get_secret_value()
    data = dataclasses.replace(configuration.channel_input_of(channel), **given)
    configuration.update_channel(actor=me.user, channel=channel, data=data)
    return _channel(me.member, channel_id)


@router.delete(
    "/alerts/channels/{channel_id}",
    response={204: None, **CHANGE_ERRORS},
    operation_id="delete_alert_channel",
)
def delete_channel(request: HttpRequest, channel_id: int = ChannelId) -> Any:
    """Its delivery log goes with it; rules that used it keep their other channels."""
    me = principal(request, PROVIDER_MANAGE)
    configuration.delete_channel(actor=me.user, channel=_channel(me.member, channel_id))
    return Status(204, None)


@router.post(
    "/alerts/channels/{channel_id}/secret",
    response={200: ChannelSecretOut, **CHANGE_ERRORS},
    operation_id="replace_alert_channel_secret",
)
def replace_secret(request: HttpRequest, payload: SecretIn, channel_id: int = ChannelId) -> Any:
    """A webhook's new signing secret: the one given, or a generated one (returned once)."""
    me = principal(request, PROVIDER_MANAGE)
    secret = payload.secret.get_secret_value() if payload.secret else None
    channel = _channel(me.member, channel_id)
    return _with_secret(configuration.replace_secret(actor=me.user, channel=channel, secret=secret))


@router.post(
    "/alerts/channels/{channel_id}/test",
    response={200: DeliveryOut, 202: DeliveryOut, **CHANGE_ERRORS},
    operation_id="send_alert_channel_test",
)
def send_test(request: HttpRequest, channel_id: int = ChannelId) -> Any:
    """**202** with a new test delivery, queued for the workers (nothing is sent during the
    request); **200** with the test still on its way. Follow it with `GET /alerts/deliveries/{id}`."""
    me = principal(request, PROVIDER_MANAGE)
    sent = configuration.send_test(actor=me.user, channel=_channel(me.member, channel_id))
    return Status(202 if sent.created else 200, _deliveries().get(pk=sent.delivery.pk))


@router.get(
    "/alerts/channels/{channel_id}/deliveries",
    response={200: DeliveryPage, **COMMON_ERRORS},
    operation_id="list_alert_channel_deliveries",
)
def list_deliveries(
    request: HttpRequest, page: Query[CursorParams], channel_id: int = ChannelId
) -> Any:
    """The channel's delivery log, newest first (cursor pages)."""
    me = principal(request, PROVIDER_VIEW)
    channel = _channel(me.member, channel_id)
    deliveries = _deliveries().for_workspace(me.workspace).filter(channel=channel)
    return cursor_page(deliveries, NEWEST_FIRST, page.cursor, page.limit)


@router.get(
    "/alerts/deliveries/{delivery_id}",
    response={200: DeliveryOut, **COMMON_ERRORS},
    operation_id="get_alert_delivery",
)
def get_delivery(request: HttpRequest, delivery_id: int = DeliveryId) -> Any:
    me = principal(request, PROVIDER_VIEW)
    return get_object_for_member(_deliveries(), me.member, pk=delivery_id)
