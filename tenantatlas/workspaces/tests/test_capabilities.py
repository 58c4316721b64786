"""The role → capability map against SPEC §2, and how templates and tokens ask for capabilities."""

from __future__ import annotations

from typing import Any

import pytest
from django.template import Context, Template

from tenantatlas.workspaces.capabilities import (
    ALL_CAPABILITIES,
    ROLE_CAPABILITIES,
    TemplateCapabilities,
    can,
    capabilities_of,
)
from tenantatlas.workspaces.models import Membership, Role

# SPEC §2, copied cell by cell: this table is the specification the code must match.
SPEC_MATRIX: dict[str, dict[str, bool]] = {
    "provider.view": {"owner": True, "manager": True, "operator": True, "readonly": True},
    "provider.run": {"owner": True, "manager": True, "operator": True, "readonly": False},
    "provider.manage": {"owner": True, "manager": True, "operator": False, "readonly": False},
    "audit.view": {"owner": True, "manager": True, "operator": False, "readonly": False},
    "workspace.manage": {"owner": True, "manager": False, "operator": False, "readonly": False},
}


def test_it_knows_exactly_the_capabilities_and_roles_of_the_spec() -> None:
    assert set(ALL_CAPABILITIES) == set(SPEC_MATRIX)
    assert set(ROLE_CAPABILITIES) == set(Role.values)
    assert set(Role.values) == {"owner", "manager", "operator", "readonly"}


@pytest.mark.parametrize("role", Role.values)
@pytest.mark.parametrize("capability", list(SPEC_MATRIX))
def test_it_grants_each_role_exactly_the_spec_capabilities(role: str, capability: str) -> None:
    member = Membership(role=role)

    assert can(member, capability) is SPEC_MATRIX[capability][role]
    assert (capability in capabilities_of(role)) is SPEC_MATRIX[capability][role]


@pytest.mark.parametrize(
    "capability", ["provider.delete", "owner", "", "PROVIDER.VIEW", "provider_view"]
)
def test_it_refuses_unknown_capabilities_instead_of_answering_no(capability: str) -> None:
    with pytest.raises(ValueError, match="Unknown capability"):
        can(Membership(role=Role.OWNER), capability)


def test_it_grants_nothing_without_a_membership_or_with_an_unknown_role() -> None:
    assert not any(can(None, c) for c in ALL_CAPABILITIES)
    assert not any(can(Membership(role="superuser"), c) for c in ALL_CAPABILITIES)
    assert capabilities_of("superuser") == frozenset()


def test_it_narrows_a_member_to_granted_capabilities_when_they_are_set() -> None:
    """API tokens carry a subset of the role's capabilities."""
    member = Membership(role=Role.OWNER)
    member.granted_capabilities = frozenset({"provider.view"})  # type: ignore[attr-defined]

    assert can(member, "provider.view")
    assert not can(member, "provider.manage")
    assert not can(member, "workspace.manage")


@pytest.mark.parametrize("role", Role.values)
def test_it_exposes_every_capability_to_templates_as_an_attribute(role: str) -> None:
    caps = TemplateCapabilities(Membership(role=role))

    for capability, by_role in SPEC_MATRIX.items():
        assert getattr(caps, capability.replace(".", "_")) is by_role[role]


def test_it_refuses_unknown_template_capabilities() -> None:
    caps = TemplateCapabilities(Membership(role=Role.OWNER))

    with pytest.raises(AttributeError):
        _ = caps.provider_delete
    with pytest.raises(AttributeError):
        _ = caps.owner


def test_it_renders_template_checks_from_capabilities_not_roles() -> None:
    template = Template(
        "{% if can.provider_manage %}manage{% endif %}|{% if can.provider_delete %}x{% endif %}"
        "|{% if can.audit_view %}audit{% endif %}"
    )

    assert (
        template.render(Context({"can": TemplateCapabilities(Membership(role=Role.MANAGER))}))
        == "manage||audit"
    )
    assert (
        template.render(Context({"can": TemplateCapabilities(Membership(role=Role.OPERATOR))}))
        == "||"
    )
    assert template.render(Context({"can": TemplateCapabilities(None)})) == "||"


@pytest.mark.parametrize(
    ("username", "visible", "hidden"),
    [
        ("alice", ["Add connection", "Audit log", "Members"], []),
        ("maggie", ["Add connection", "Audit log"], ["Members"]),
        ("bob", [], ["Add connection", "Audit log", "Members"]),
        ("vera", [], ["Add connection", "Audit log", "Members"]),
    ],
)
def test_it_hides_actions_the_member_cannot_use(
    username: str, visible: list[str], hidden: list[str], cast: dict[str, Any], acme: Any
) -> None:
    from tenantatlas.testing import client_for, make_connection

    connection = make_connection(acme, cast["alice"])

    client = client_for(cast[username])
    html = client.get(f"/w/{acme.slug}/connections/").content.decode()
    # what the row's menu shows when opened (its items are fetched then)
    html += client.get(f"/w/{acme.slug}/connections/{connection.pk}/actions/").content.decode()

    for text in visible:
        assert text in html
    for text in hidden:
        assert text not in html
    manage_links = ("/edit/", "/rotate/", "/delete/")
    assert any(link in html for link in manage_links) is ("Add connection" in visible)
