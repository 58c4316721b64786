"""R4 for alerts — secret canary in every channel: a webhook's signing secret and a Teams
workflow URL (its signature) never appear in what was sent, the logs, the database (outside the
sealed column) or any page or API answer, after deliveries that succeed and every way they fail.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.test import Client

from tenantatlas.accounts.services import create_api_token
from tenantatlas.alerts.addresses import redact_url
from tenantatlas.alerts.models import (
    AlertChannel,
    AlertDelivery,
    AlertRule,
    ChannelKind,
    DeliveryStatus,
    EventKind,
    Severity,
)
from tenantatlas.alerts.secrets import seal
from tenantatlas.alerts.services import NewEvent, raise_event
from tenantatlas.alerts.tests.receivers import SmtpServer, WebhookReceiver
from tenantatlas.alerts.tests.workers import deliver_due
from tenantatlas.testing import make_connection
from tenantatlas.workspaces.models import Membership
from tests.reliability.test_operations_secret_canary import (
    JWT,
    canary,
    database_text,
    pages_text,
    sanitized_log,
)

__all__ = ["sanitized_log"]


@pytest.mark.django_db(transaction=True)
def test_no_channel_secret_leaks_through_any_delivery_or_failure(
    sim, acme, alice, settings, tmp_path, sanitized_log
):
    settings.ALERT_BACKOFF_BASE_SECONDS = 0.0
    settings.ALERT_MAX_ATTEMPTS = 2
    settings.ALERTS_READ_TIMEOUT = 0.5
    hook_secret = canary("webhook-secret")
    with (
        WebhookReceiver(tmp_path / "pki", secret=hook_secret) as hook,
        SmtpServer() as smtp,
    ):
        smtp.configure(settings)
        bundle = tmp_path / "ca.pem"
        bundle.write_text(Path(hook.ca_file).read_text() + Path(sim.ca_bundle).read_text())
        settings.ALERTS_CA_FILE = str(bundle)
        settings.ALERTS_ALLOW_PRIVATE_NETWORKS = True
        workflow = sim.teams.add_workflow()
        teams_url = workflow.url
        channels = [
            AlertChannel.objects.create(
                workspace=acme, name="hook", kind=ChannelKind.WEBHOOK, url=hook.url,
                secret_ciphertext=seal(hook_secret), url_display=redact_url(hook.url),
            ),
            AlertChannel.objects.create(
                workspace=acme, name="teams", kind=ChannelKind.TEAMS,
                secret_ciphertext=seal(teams_url), url_display=redact_url(teams_url),
            ),
            AlertChannel.objects.create(
                workspace=acme, name="mail", kind=ChannelKind.EMAIL, addresses=["desk@example.test"],
            ),
            # Refused before any byte is sent: a redirecting and an unreachable receiver.
            AlertChannel.objects.create(
                workspace=acme, name="gone", kind=ChannelKind.TEAMS,
                secret_ciphertext=seal(teams_url.replace(str(sim.port), "1")),
            ),
        ]  # fmt: skip
        rule = AlertRule.objects.create(
            workspace=acme, name="all", event_kind=EventKind.RUN_FAILED,
            min_severity=Severity.INFO, recipient_roles=["owner"],
        )  # fmt: skip
        rule.channels.set(channels)
        conn = make_connection(acme, alice, name="Contoso")

        # Delivered, refused (400), server errors until given up, a timeout, throttled.
        answers = [(204, {}, 0), (400, {}, 0), (500, {}, 0), (500, {}, 0), (204, {}, 2)]
        for n, (status, headers, delay) in enumerate(answers):
            hook.answer(status, headers=headers, delay=delay)
            raise_event(
                NewEvent(
                    workspace_id=acme.pk, kind=EventKind.RUN_FAILED, severity=Severity.CRITICAL,
                    key=f"run:{n}", title=f"Inventory sync failed: Contoso #{n}",
                    connection_id=conn.pk, facts={"n": n},
                )
            )  # fmt: skip
            deliver_due()
        statuses = set(AlertDelivery.objects.values_list("status", flat=True))
        assert statuses >= {DeliveryStatus.DELIVERED, DeliveryStatus.FAILED}

        sent = [
            "\n".join(f"{k}: {v}" for k, v in r.headers.items()) + r.body.decode()
            for r in hook.received
        ]
        sent += [json.dumps(card) for card in sim.teams.messages(workflow.workflow_id)]
        sent += [m.as_string() for m in smtp.mailbox.messages]

    member = Membership.objects.get(workspace=acme, user=alice)
    _, token = create_api_token(
        actor=alice, member=member, name="r4", capabilities=["provider.view", "audit.view"]
    )
    client = Client()
    client.force_login(alice)
    extra_pages = ["/w/acme/alerts/"] + [f"/w/acme/alerts/channels/{c.pk}/" for c in channels]
    pages = []
    for url in extra_pages:
        response = client.get(url)
        assert response.status_code == 200, url
        pages.append(response.content.decode())
    surfaces = {
        "sent": "\n".join(sent),
        "database": database_text(exclude={("alerts_alertchannel", "secret_ciphertext")}),
        "log": sanitized_log.getvalue(),
        "pages and API": pages_text(client, acme, token) + "\n".join(pages),
    }
    secrets = [hook_secret, teams_url, workflow.sig]
    assert "Inventory sync failed" in surfaces["sent"]  # the scan sees what was delivered
    assert "answered 400" in surfaces["database"]
    found = {
        where: [s for s in secrets if s in text] + JWT.findall(text)
        for where, text in surfaces.items()
    }
    leaked_lines = [
        line for line in surfaces["log"].splitlines() if any(s in line for s in secrets)
    ]
    assert found == {where: [] for where in surfaces}, (found, leaked_lines[:5])
