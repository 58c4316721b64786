"""Alert pages: rules, channels, a channel's delivery log and its test deliveries.

Pages read the database only and send nothing: "Send test" queues a delivery for the workers,
and the channel's page follows it by polling until it has ended.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from tenantatlas.alerts.configuration import (
    change_kind_choices,
    create_channel,
    create_rule,
    delete_channel,
    delete_rule,
    replace_secret,
    send_test,
    update_channel,
    update_rule,
)
from tenantatlas.alerts.configuration.shown import shown_errors
from tenantatlas.alerts.forms import ChannelForm, RuleForm, SecretForm
from tenantatlas.alerts.models import (
    AlertChannel,
    AlertDelivery,
    AlertRule,
    ChannelKind,
    DeliveryStatus,
    EventKind,
)
from tenantatlas.lib.errors import Refused
from tenantatlas.lib.keyset import (
    InvalidCursor,
    Keyset,
    decode_datetime,
    invalid_cursor_page,
    paginate,
)
from tenantatlas.lib.pages import render_polling
from tenantatlas.workspaces.access import get_object_for_member, workspace_view
from tenantatlas.workspaces.capabilities import PROVIDER_MANAGE, PROVIDER_VIEW
from tenantatlas.workspaces.models import Role
from tenantatlas.workspaces.requests import WorkspaceRequest

DELIVERIES_PER_PAGE = 30
# Matches the index delivery_channel_log (channel, -created_at).
NEWEST_FIRST = Keyset("created_at", descending=True, decode=decode_datetime)
ACTIVE = (DeliveryStatus.PENDING, DeliveryStatus.SENDING)


def _rules() -> Any:
    return AlertRule.objects.prefetch_related("connections", "channels")


def _get_rule(request: WorkspaceRequest, pk: int) -> AlertRule:
    rule: AlertRule = get_object_for_member(_rules(), request.member, pk=pk)
    return rule


def _get_channel(request: WorkspaceRequest, pk: int) -> AlertChannel:
    channel: AlertChannel = get_object_for_member(AlertChannel.objects, request.member, pk=pk)
    return channel


def _to_channel(channel: AlertChannel) -> HttpResponse:
    return redirect("alerts:channel", slug=channel.workspace.slug, pk=channel.pk)


def conditions(rule: AlertRule, kind_labels: dict[str, str]) -> str:
    """The kind's own condition in words (the rules list)."""
    params = rule.params or {}
    if rule.event_kind == EventKind.DATA_STALE:
        return f"for {params.get('hours', 24)} h"
    if rule.event_kind == EventKind.COMPLIANCE:
        parts = []
        if params.get("share_above") is not None:
            parts.append(f"above {params['share_above']:g} %")
        if params.get("points_up") is not None:
            parts.append(f"up {params['points_up']:g} points")
        return " or ".join(parts)
    if rule.event_kind == EventKind.CHANGES:
        kinds = [kind_labels.get(k, k) for k in params.get("kinds") or []]
        return ", ".join(kinds) if kinds else "any kind"
    return ""


def roles(rule: AlertRule) -> str:
    chosen = set(rule.recipient_roles or [])
    return ", ".join(str(label) for value, label in Role.choices if value in chosen)


@workspace_view(PROVIDER_VIEW)
@require_GET
def rule_list(request: WorkspaceRequest) -> HttpResponse:
    labels = dict(change_kind_choices())
    rules = _rules().for_workspace(request.workspace)
    rows = [(rule, conditions(rule, labels), roles(rule)) for rule in rules]
    return render(request, "alerts/rules.html", {"rows": rows, "tab": "rules"})


def _rule_form(request: WorkspaceRequest, rule: AlertRule | None) -> HttpResponse:
    """The create and edit page: one form, one service call."""
    data = request.POST if request.method == "POST" else None
    form = RuleForm(data, workspace=request.workspace, rule=rule)
    if request.method == "POST" and form.is_valid():
        try:
            if rule is None:
                rule = create_rule(
                    actor=request.user, workspace=request.workspace, data=form.rule_input()
                )
            else:
                update_rule(actor=request.user, rule=rule, data=form.rule_input())
        except Refused as exc:
            form.add_refusal(exc)
        else:
            messages.success(request, f"Rule “{rule.name}” saved.")
            return redirect("alerts:rules", slug=request.workspace.slug)
    return render(request, "alerts/rule_form.html", {"form": form, "rule": rule, "tab": "rules"})


@workspace_view(PROVIDER_MANAGE)
def rule_create(request: WorkspaceRequest) -> HttpResponse:
    return _rule_form(request, None)


@workspace_view(PROVIDER_MANAGE)
def rule_edit(request: WorkspaceRequest, pk: int) -> HttpResponse:
    return _rule_form(request, _get_rule(request, pk))


@workspace_view(PROVIDER_MANAGE)
def rule_delete(request: WorkspaceRequest, pk: int) -> HttpResponse:
    """Asks first (GET); only the confirmation's POST deletes."""
    rule = _get_rule(request, pk)
    if request.method == "POST":
        delete_rule(actor=request.user, rule=rule)
        messages.success(request, f"Rule “{rule.name}” deleted.")
        return redirect("alerts:rules", slug=request.workspace.slug)
    return render(request, "alerts/confirm_delete.html", {"rule": rule, "tab": "rules"})


@workspace_view(PROVIDER_VIEW)
@require_GET
def channel_list(request: WorkspaceRequest) -> HttpResponse:
    channels = list(
        AlertChannel.objects.for_workspace(request.workspace).annotate(rule_count=Count("rules"))
    )
    for channel in channels:
        channel.shown_error = shown_errors(channel)(channel.last_error)
    return render(request, "alerts/channels.html", {"channels": channels, "tab": "channels"})


def _secret_page(request: WorkspaceRequest, channel: AlertChannel, secret: str) -> HttpResponse:
    """The one answer that shows a generated signing secret; never stored by a cache."""
    context = {"channel": channel, "secret": secret, "tab": "channels"}
    response = render(request, "alerts/channel_secret.html", context)
    response["Cache-Control"] = "no-store"
    return response


@workspace_view(PROVIDER_MANAGE)
def channel_create(request: WorkspaceRequest) -> HttpResponse:
    form = ChannelForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            saved = create_channel(
                actor=request.user, workspace=request.workspace, data=form.channel_input()
            )
        except Refused as exc:
            form.add_refusal(exc)
        else:
            messages.success(request, f"Channel “{saved.channel.name}” created.")
            if saved.new_secret:
                return _secret_page(request, saved.channel, saved.new_secret)
            return _to_channel(saved.channel)
    context = {"form": form, "channel": None, "tab": "channels"}
    return render(request, "alerts/channel_form.html", context)


@workspace_view(PROVIDER_MANAGE)
def channel_edit(request: WorkspaceRequest, pk: int) -> HttpResponse:
    channel = _get_channel(request, pk)
    form = ChannelForm(request.POST if request.method == "POST" else None, channel=channel)
    if request.method == "POST" and form.is_valid():
        try:
            update_channel(actor=request.user, channel=channel, data=form.channel_input())
        except Refused as exc:
            form.add_refusal(exc)
        else:
            messages.success(request, "Channel saved.")
            return _to_channel(channel)
    context = {"form": form, "channel": channel, "tab": "channels"}
    return render(request, "alerts/channel_form.html", context)


@workspace_view(PROVIDER_MANAGE)
def channel_secret(request: WorkspaceRequest, pk: int) -> HttpResponse:
    """Replace a webhook's signing secret: asks first, then shows a generated one once."""
    channel = _get_channel(request, pk)
    form = SecretForm(request.POST if request.method == "POST" else None)
    if request.method == "POST" and form.is_valid():
        try:
            saved = replace_secret(
                actor=request.user, channel=channel, secret=form.cleaned_data["secret"]
            )
        except Refused as exc:
            form.add_error("secret", exc.message)
        else:
            messages.success(request, "Signing secret replaced: give it to the receiver.")
            if saved.new_secret:
                return _secret_page(request, channel, saved.new_secret)
            return _to_channel(channel)
    context = {"form": form, "channel": channel, "tab": "channels"}
    return render(request, "alerts/channel_secret_form.html", context)


@workspace_view(PROVIDER_MANAGE)
def channel_delete(request: WorkspaceRequest, pk: int) -> HttpResponse:
    """Asks first (GET); only the confirmation's POST deletes."""
    channel = _get_channel(request, pk)
    if request.method == "POST":
        delete_channel(actor=request.user, channel=channel)
        messages.success(request, f"Channel “{channel.name}” deleted.")
        return redirect("alerts:channels", slug=request.workspace.slug)
    rules = channel.rules.order_by("name")
    context = {"channel": channel, "rules": rules, "tab": "channels"}
    return render(request, "alerts/confirm_delete.html", context)


@workspace_view(PROVIDER_MANAGE)
@require_POST
def channel_test(request: WorkspaceRequest, pk: int) -> HttpResponse:
    """Queue a test delivery; the channel's page follows it until it has ended."""
    channel = _get_channel(request, pk)
    sent = send_test(actor=request.user, channel=channel)
    if sent.created:
        messages.info(request, "Test queued: this page follows it until it is delivered.")
    else:
        messages.info(request, "A test is already on its way: this page follows it.")
    return _to_channel(channel)


@workspace_view(PROVIDER_VIEW)
@require_GET
def channel_detail(request: WorkspaceRequest, pk: int) -> HttpResponse:
    """The channel, its latest test and its delivery log (newest first, keyset pages); the log
    polls while a delivery it shows is pending or sending."""
    channel = _get_channel(request, pk)
    deliveries = AlertDelivery.objects.for_workspace(request.workspace).filter(channel=channel)
    try:
        page = paginate(
            deliveries.select_related("rule", "requested_by"),
            NEWEST_FIRST,
            request.GET,
            per_page=DELIVERIES_PER_PAGE,
        )
    except InvalidCursor:
        return invalid_cursor_page(request)
    test = deliveries.filter(is_test=True).select_related("requested_by")
    latest_test = test.order_by("-created_at", "-id").first()
    shown = shown_errors(channel)
    for delivery in [*page.items, latest_test]:
        if delivery is not None:
            delivery.shown_error = shown(delivery.last_error)
    active = any(d.status in ACTIVE for d in [*page.items, latest_test] if d is not None)
    context = {
        "channel": channel,
        "channel_error": shown(channel.last_error),
        "page": page,
        "latest_test": latest_test,
        "active": active,
        "is_url_kind": channel.kind in (ChannelKind.WEBHOOK, ChannelKind.TEAMS),
        "fragment": "#channel-deliveries",
        "tab": "channels",
    }
    return render_polling(request, "alerts/channel.html", context, active=active)
