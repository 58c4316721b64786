"""The audit log links each event's target to its page while it exists and the viewer may see it.

Deleted or hidden targets stay plain text, and the page resolves its targets with at most one
query per kind of target (the count does not grow with the number of events).
"""

from __future__ import annotations

import re
from typing import Any

from django.urls import reverse

from tenantatlas.accounts.services import create_api_token
from tenantatlas.audit.models import AuditEvent
from tenantatlas.audit.services import record_event
from tenantatlas.members.services import invite_member, remove_member
from tenantatlas.operations.tests.factories import make_run
from tenantatlas.providers.services.connections import delete_connection
from tenantatlas.testing import client_for, make_connection, page_queries
from tenantatlas.workspaces.capabilities import PROVIDER_VIEW
from tenantatlas.workspaces.models import Membership, Workspace


def log_url(workspace: Workspace) -> str:
    return reverse("audit:log", kwargs={"slug": workspace.slug})


def target_cells(html: str) -> list[str]:
    return re.findall(r'<td class="audit-target">(.*?)</td>', html, re.S)


def link_to(url: str, html: str) -> bool:
    return f'href="{url}"' in html


def test_it_links_a_connection_and_a_run_to_their_pages(alice: Any, acme: Workspace) -> None:
    connection = make_connection(acme, alice)
    run = make_run(acme, connection)
    record_event(workspace=acme, actor=alice, action="operation.started", target=run)

    html = client_for(alice).get(log_url(acme)).content.decode()

    assert link_to(reverse("providers:detail", args=[acme.slug, connection.pk]), html)
    assert link_to(reverse("operations:run", args=[acme.slug, run.pk]), html)
    cells = target_cells(html)
    assert any(cell.startswith("Connection <a ") for cell in cells)
    assert any(cell.startswith("Run <a ") for cell in cells)
    assert "providerconnection" not in html


def test_it_links_members_invitations_and_tokens_to_the_rows_of_their_pages(
    alice: Any, vera: Any, acme: Workspace
) -> None:
    membership = Membership.objects.get(user=vera, workspace=acme)
    record_event(workspace=acme, actor=alice, action="member.role_changed", target=membership)
    invitation, _ = invite_member(actor=alice, workspace=acme, identifier="carol", role="readonly")
    alice_member = Membership.objects.get(user=alice, workspace=acme)
    token, _ = create_api_token(
        actor=alice, member=alice_member, name="CI", capabilities=[PROVIDER_VIEW]
    )

    html = client_for(alice).get(log_url(acme)).content.decode()

    members = reverse("members:list", args=[acme.slug])
    assert link_to(f"{members}#member-{membership.pk}", html)
    assert link_to(f"{members}#invitation-{invitation.pk}", html)
    assert link_to(f"{reverse('accounts:tokens', args=[acme.slug])}#token-{token.pk}", html)


def test_it_shows_a_target_that_is_gone_as_plain_text(
    alice: Any, vera: Any, acme: Workspace
) -> None:
    connection = make_connection(acme, alice, name="Old tenant")
    delete_connection(actor=alice, connection=connection)
    membership = Membership.objects.get(user=vera, workspace=acme)
    remove_member(actor=alice, membership=membership)

    html = client_for(alice).get(log_url(acme)).content.decode()

    assert not link_to(reverse("providers:detail", args=[acme.slug, connection.pk]), html)
    assert f"#member-{membership.pk}" not in html
    assert any("Old tenant" in cell and "<a " not in cell for cell in target_cells(html))


def test_it_links_only_what_the_viewer_may_open(
    alice: Any, maggie: Any, vera: Any, acme: Workspace
) -> None:
    """A manager reads the log but does not manage members, nor see others' tokens."""
    membership = Membership.objects.get(user=vera, workspace=acme)
    record_event(workspace=acme, actor=alice, action="member.role_changed", target=membership)
    alice_member = Membership.objects.get(user=alice, workspace=acme)
    alices, _ = create_api_token(
        actor=alice, member=alice_member, name="CI", capabilities=[PROVIDER_VIEW]
    )
    maggie_member = Membership.objects.get(user=maggie, workspace=acme)
    maggies, _ = create_api_token(
        actor=maggie, member=maggie_member, name="Mine", capabilities=[PROVIDER_VIEW]
    )

    html = client_for(maggie).get(log_url(acme)).content.decode()

    tokens = reverse("accounts:tokens", args=[acme.slug])
    assert f"#member-{membership.pk}" not in html
    assert not link_to(f"{tokens}#token-{alices.pk}", html)
    assert link_to(f"{tokens}#token-{maggies.pk}", html)


def test_it_never_links_into_another_workspace(
    alice: Any, mallory: Any, acme: Workspace, globex: Workspace
) -> None:
    """An event whose target id names another workspace's object (ids are only numbers)."""
    theirs = make_connection(globex, mallory, name="Globex tenant")
    AuditEvent.objects.create(
        workspace=acme,
        actor_label="alice",
        action="connection.updated",
        target_type="providerconnection",
        target_id=str(theirs.pk),
        target_label="Globex tenant",
    )

    html = client_for(alice).get(log_url(acme)).content.decode()

    assert not link_to(reverse("providers:detail", args=[acme.slug, theirs.pk]), html)


def test_it_resolves_the_targets_in_a_constant_number_of_queries(
    alice: Any, vera: Any, acme: Workspace
) -> None:
    client = client_for(alice)
    connection = make_connection(acme, alice)
    make_run_event(acme, alice, connection)
    invite_member(actor=alice, workspace=acme, identifier="someone", role="readonly")
    few = page_queries(client, log_url(acme))

    for n in range(6):
        other = make_connection(acme, alice, name=f"Tenant {n}", entra_tenant_id=uuid(n))
        make_run_event(acme, alice, other)
        invite_member(actor=alice, workspace=acme, identifier=f"person{n}", role="readonly")
    many = page_queries(client, log_url(acme))

    assert many == few


def make_run_event(workspace: Workspace, actor: Any, connection: Any) -> None:
    run = make_run(workspace, connection)
    record_event(workspace=workspace, actor=actor, action="operation.started", target=run)


def uuid(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"
