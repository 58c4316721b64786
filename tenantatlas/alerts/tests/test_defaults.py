"""A new workspace starts with alerts that reach its owners and managers."""

from __future__ import annotations

from tenantatlas.alerts.models import AlertChannel, AlertRule, ChannelKind, Digest, Severity
from tenantatlas.members.services import create_workspace
from tenantatlas.testing import make_user


def test_a_new_workspace_tells_owners_and_managers_of_failures_in_app_and_by_e_mail(db):
    owner = make_user("olivia")
    workspace = create_workspace(actor=owner, name="Northwind MSP")

    channels = {c.name: c for c in AlertChannel.objects.filter(workspace=workspace)}
    assert {name: c.kind for name, c in channels.items()} == {
        "In-app": ChannelKind.IN_APP,
        "E-mail to members": ChannelKind.EMAIL,
    }
    assert all(c.to_members and c.is_enabled for c in channels.values())
    rules = AlertRule.objects.filter(workspace=workspace).order_by("name")
    assert [(r.name, r.event_kind) for r in rules] == [
        ("Connection health", "connection.health"),
        ("Credential expiry", "credential.expiry"),
        ("Run failures", "run.failed"),
    ]
    for rule in rules:
        assert rule.recipient_roles == ["owner", "manager"]
        assert (rule.min_severity, rule.digest, rule.all_connections) == (
            Severity.WARNING,
            Digest.IMMEDIATE,
            True,
        )
        assert set(rule.channels.all()) == set(channels.values())


def test_the_defaults_are_not_made_twice_and_other_workspaces_keep_theirs(db):
    from tenantatlas.alerts.defaults import create_defaults

    first = create_workspace(actor=make_user("olivia"), name="One")
    second = create_workspace(actor=make_user("oscar"), name="Two")
    create_defaults(first.pk, AlertChannel, AlertRule)
    assert AlertRule.objects.filter(workspace=first).count() == 3
    assert AlertChannel.objects.filter(workspace=second).count() == 2
