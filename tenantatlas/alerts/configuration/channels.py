"""Alert channels: create, change, replace a webhook's secret, delete, send a test (audited)."""

from __future__ import annotations

import functools
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from tenantatlas.alerts.addresses import redact_url
from tenantatlas.alerts.configuration.inputs import (
    URL_KINDS,
    ChannelInput,
    SavedChannel,
    TestSent,
    check_addresses,
    check_choice,
    check_name,
    check_receiver_url,
    check_secret,
    duplicate_name,
    generate_secret,
)
from tenantatlas.alerts.delivery import enqueue_delivery
from tenantatlas.alerts.models import (
    AlertChannel,
    AlertDelivery,
    ChannelKind,
    ChannelState,
    DeliveryStatus,
)
from tenantatlas.alerts.secrets import seal
from tenantatlas.audit.services import record_event
from tenantatlas.lib.actors import Actor, user_or_none
from tenantatlas.lib.errors import InvalidInput
from tenantatlas.workspaces.models import Workspace


def _start_over(channel: AlertChannel) -> None:
    """A new receiver or secret: the failures of the old one say nothing about it."""
    channel.state = ChannelState.OK
    channel.consecutive_failures = 0
    channel.failing_since = None
    channel.last_error = ""


def _apply_target(channel: AlertChannel, data: ChannelInput, *, creating: bool) -> str | None:
    """Set the URL and secret of a webhook or Teams channel; the generated secret, if any."""
    url = (data.url or "").strip()
    secret = (data.secret or "").strip()
    if creating and not url:
        raise InvalidInput("Enter the receiver's URL.", field="url")
    generated = None
    if url:
        checked = check_receiver_url(url)
        if channel.kind == ChannelKind.TEAMS:
            channel.secret_ciphertext = seal(checked)
            channel.secret_set_at = timezone.now()
        else:
            channel.url = checked
        channel.url_display = redact_url(checked)
        _start_over(channel)
    if channel.kind == ChannelKind.WEBHOOK and (secret or creating):
        if not secret:
            secret = generated = generate_secret()
        channel.secret_ciphertext = seal(check_secret(secret))
        channel.secret_set_at = timezone.now()
        _start_over(channel)
    return generated


def _apply_channel(channel: AlertChannel, data: ChannelInput, *, creating: bool) -> str | None:
    channel.name = check_name(data.name, AlertChannel, channel.workspace, channel.pk)
    channel.is_enabled = bool(data.is_enabled)
    channel.to_members = channel.kind == ChannelKind.IN_APP or (
        channel.kind == ChannelKind.EMAIL and bool(data.to_members)
    )
    channel.addresses = check_addresses(data.addresses) if channel.kind == ChannelKind.EMAIL else []
    if channel.kind == ChannelKind.EMAIL and not (channel.to_members or channel.addresses):
        raise InvalidInput(
            "Add an address, or send to the members in each rule's roles.", field="addresses"
        )
    if channel.kind in URL_KINDS:
        return _apply_target(channel, data, creating=creating)
    return None


def _save_channel(channel: AlertChannel) -> None:
    try:
        with transaction.atomic():
            channel.save()
    except IntegrityError:
        raise duplicate_name(AlertChannel, channel.name) from None


def _describe_channel(channel: AlertChannel) -> dict[str, Any]:
    return {
        "name": channel.name,
        "to_members": channel.to_members,
        "addresses": list(channel.addresses),
        "url": channel.url_display,
        "is_enabled": channel.is_enabled,
    }


@transaction.atomic
def create_channel(*, actor: Actor, workspace: Workspace, data: ChannelInput) -> SavedChannel:
    kind = check_choice(data.kind, ChannelKind.values, "kind", "kinds of channel")
    channel = AlertChannel(workspace=workspace, kind=kind)
    generated = _apply_channel(channel, data, creating=True)
    _save_channel(channel)
    metadata = {"kind": kind, **_describe_channel(channel)}
    if kind == ChannelKind.WEBHOOK:
        metadata["signing"] = "generated" if generated else "given"
    record_event(
        workspace=workspace,
        actor=actor,
        action="alert_channel.created",
        target=channel,
        metadata=metadata,
    )
    return SavedChannel(channel, generated)


@transaction.atomic
def update_channel(*, actor: Actor, channel: AlertChannel, data: ChannelInput) -> SavedChannel:
    """Change name, recipients, URL or secret; the kind stays (make a new channel instead)."""
    if data.kind != channel.kind:
        raise InvalidInput(
            "A channel's kind cannot change: create a channel of the other kind.", field="kind"
        )
    before, sealed, url = _describe_channel(channel), channel.secret_ciphertext, channel.url
    _apply_channel(channel, data, creating=False)
    _save_channel(channel)
    after = _describe_channel(channel)
    changes = {k: {"from": before[k], "to": after[k]} for k in after if before[k] != after[k]}
    if channel.url != url:  # also a new path or query on the same host
        changes["url"] = {"from": before["url"], "to": after["url"]}
    if changes:
        record_event(
            workspace=channel.workspace,
            actor=actor,
            action="alert_channel.updated",
            target=channel,
            metadata={"changes": changes},
        )
    if channel.secret_ciphertext != sealed:
        _secret_set(actor, channel, generated=False)
    return SavedChannel(channel)


def _secret_set(actor: Actor, channel: AlertChannel, *, generated: bool) -> None:
    what = "workflow URL" if channel.kind == ChannelKind.TEAMS else "signing secret"
    record_event(
        workspace=channel.workspace,
        actor=actor,
        action="alert_channel.secret_set",
        target=channel,
        metadata={"what": what, "generated": generated},
    )


@transaction.atomic
def replace_secret(
    *, actor: Actor, channel: AlertChannel, secret: str | None = None
) -> SavedChannel:
    """A webhook's new signing secret (generated when none is given): the receiver must be
    given it too, since deliveries are signed with it from now on."""
    if channel.kind != ChannelKind.WEBHOOK:
        raise InvalidInput("Only a webhook channel has a signing secret.", field="secret")
    generated = None if secret and secret.strip() else generate_secret()
    channel.secret_ciphertext = seal(check_secret(secret or generated or ""))
    channel.secret_set_at = timezone.now()
    _start_over(channel)
    channel.save()
    _secret_set(actor, channel, generated=generated is not None)
    return SavedChannel(channel, generated)


@transaction.atomic
def delete_channel(*, actor: Actor, channel: AlertChannel) -> None:
    """Its delivery log goes with it; rules that sent to it keep their other channels."""
    record_event(
        workspace=channel.workspace,
        actor=actor,
        action="alert_channel.deleted",
        target=channel,
        metadata={"kind": channel.kind, "rule_ids": sorted(r.pk for r in channel.rules.all())},
    )
    channel.delete()


@transaction.atomic
def send_test(*, actor: Actor, channel: AlertChannel) -> TestSent:
    """A test delivery to the channel, for the workers to send after commit (nothing is sent
    here). A test still on its way is answered instead of a second one."""
    AlertChannel.objects.select_for_update().filter(pk=channel.pk).first()
    on_its_way = (
        channel.deliveries.filter(
            is_test=True, status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if on_its_way is not None:
        return TestSent(on_its_way, created=False)
    delivery = AlertDelivery.objects.create(
        workspace_id=channel.workspace_id,
        channel=channel,
        rule=None,
        key=f"test-{uuid.uuid4()}",
        is_test=True,
        requested_by=user_or_none(actor),
        next_attempt_at=timezone.now(),
    )
    record_event(
        workspace=channel.workspace,
        actor=actor,
        action="alert_channel.test_sent",
        target=channel,
        metadata={"delivery_id": delivery.pk, "delivery_key": delivery.key},
    )
    transaction.on_commit(functools.partial(enqueue_delivery, delivery.pk))
    return TestSent(delivery, created=True)
