"""Roles map to capabilities here and nowhere else. Feature code asks `can(member, cap)`."""

from __future__ import annotations

from dataclasses import dataclass

from tenantatlas.workspaces.models import Membership, Role

PROVIDER_VIEW = "provider.view"
PROVIDER_RUN = "provider.run"
PROVIDER_MANAGE = "provider.manage"
AUDIT_VIEW = "audit.view"
WORKSPACE_MANAGE = "workspace.manage"

CAPABILITY_LABELS: dict[str, str] = {
    PROVIDER_VIEW: "See connections, runs, inventory and compliance",
    PROVIDER_RUN: "Start provider operations",
    PROVIDER_MANAGE: "Create, edit and delete connections; rotate credentials",
    AUDIT_VIEW: "Read the workspace audit log",
    WORKSPACE_MANAGE: "Manage members, roles and others' API tokens",
}
ALL_CAPABILITIES: tuple[str, ...] = tuple(CAPABILITY_LABELS)

ROLE_CAPABILITIES: dict[str, frozenset[str]] = {
    Role.OWNER: frozenset(ALL_CAPABILITIES),
    Role.MANAGER: frozenset({PROVIDER_VIEW, PROVIDER_RUN, PROVIDER_MANAGE, AUDIT_VIEW}),
    Role.OPERATOR: frozenset({PROVIDER_VIEW, PROVIDER_RUN}),
    Role.READONLY: frozenset({PROVIDER_VIEW}),
}


def capabilities_of(role: str) -> frozenset[str]:
    return ROLE_CAPABILITIES.get(role, frozenset())


def can(member: Membership | None, capability: str) -> bool:
    """True when the member's role grants the capability. Unknown capabilities are refused."""
    if capability not in CAPABILITY_LABELS:
        raise ValueError(f"Unknown capability {capability!r}")
    if member is None:
        return False
    granted = getattr(member, "granted_capabilities", None)
    if granted is not None:  # e.g. an API token narrowed to a subset of the role
        return capability in granted
    return capability in capabilities_of(member.role)


@dataclass(frozen=True)
class TemplateCapabilities:
    """`can.provider_manage` in templates, so templates never compare role strings."""

    member: Membership | None

    def __getattr__(self, name: str) -> bool:
        capability = name.replace("_", ".", 1)
        if capability not in CAPABILITY_LABELS:
            raise AttributeError(name)
        return can(self.member, capability)
