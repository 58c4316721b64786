"""Teams: an Adaptive Card the simulated workflow posts, kept under Teams' size limit."""

from __future__ import annotations

import datetime as dt
import json

from django.utils import timezone

from tenantatlas.alerts.models import AlertChannel, AlertRule, ChannelKind, EventKind, Severity
from tenantatlas.alerts.payloads import TEAMS_CARD_BYTES
from tenantatlas.alerts.secrets import seal
from tenantatlas.alerts.services import NewEvent, raise_event, send_due_digests
from tenantatlas.alerts.tests.workers import deliver_due
from tenantatlas.testing import make_connection


def test_a_big_digest_fits_one_card_that_the_workflow_posts(
    sim, teams_workflow, settings, acme, alice
):
    settings.ALERTS_CA_FILE = str(sim.ca_bundle)
    settings.ALERTS_ALLOW_PRIVATE_NETWORKS = True
    AlertRule.objects.filter(workspace=acme).delete()
    channel = AlertChannel.objects.create(
        workspace=acme, name="Teams", kind=ChannelKind.TEAMS,
        secret_ciphertext=seal(teams_workflow.url),
    )  # fmt: skip
    rule = AlertRule.objects.create(
        workspace=acme, name="Daily", event_kind=EventKind.RUN_FAILED,
        min_severity=Severity.INFO, digest="daily",
    )  # fmt: skip
    rule.channels.set([channel])
    conn = make_connection(acme, alice)
    start = timezone.now().replace(hour=1, minute=0, second=0, microsecond=0)
    for n in range(30):
        raise_event(
            NewEvent(
                workspace_id=acme.pk, kind=EventKind.RUN_FAILED, severity=Severity.CRITICAL,
                key=f"run:{n}", title=f"Inventory sync failed: Contoso #{n}", body="x" * 1000,
                connection_id=conn.pk, occurred_at=start + dt.timedelta(minutes=n),
            )
        )  # fmt: skip
    assert send_due_digests(start + dt.timedelta(days=1)) == 1
    assert deliver_due() == ["delivered"]

    [run] = sim.teams.runs(teams_workflow.workflow_id)
    assert run.status == "Succeeded"
    [card] = sim.teams.messages(teams_workflow.workflow_id)
    size = len(json.dumps(card, separators=(",", ":")).encode())
    assert size <= TEAMS_CARD_BYTES
    texts = [block.get("text", "") for block in card["body"]]
    assert texts[0] == "Daily: 30 alerts"
    shown = sum(t.startswith("Inventory sync failed") for t in texts)
    assert 1 <= shown < 30
    assert texts[-1] == f"… and {30 - shown} more."
