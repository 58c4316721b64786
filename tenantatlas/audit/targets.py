"""Where an audit event's target lives: its page, while it exists and the viewer may open it.

Audit sits below the apps whose objects it records, so it imports none of them: it reaches each
kind of target through the workspace's relation to it (``workspace.connections``, ``.runs``, …)
and names its page by URL name, as lower apps name upper models by string. A page of events costs
one query per kind of target on it, whatever the number of events.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.urls import reverse

from tenantatlas.audit.models import AuditEvent
from tenantatlas.workspaces.capabilities import PROVIDER_VIEW, WORKSPACE_MANAGE, can
from tenantatlas.workspaces.models import Membership


def _everything(objects: Any, member: Membership) -> Any:
    return objects


def _pending(objects: Any, member: Membership) -> Any:
    return objects.pending()  # the members page lists pending invitations only


def _visible_tokens(objects: Any, member: Membership) -> Any:
    """The tokens page shows others' tokens to those who manage the workspace only."""
    if can(member, WORKSPACE_MANAGE):
        return objects
    return objects.filter(user_id=member.user_id)


@dataclass(frozen=True)
class TargetPage:
    relation: str  # the Workspace's reverse relation to the target's model
    url_name: str
    capability: str
    anchor: str = ""  # "" → the URL takes the pk; else a list page's row id prefix
    shown: Callable[[Any, Membership], Any] = _everything  # what that page shows the viewer

    def url(self, slug: str, pk: object) -> str:
        if not self.anchor:
            return reverse(self.url_name, kwargs={"slug": slug, "pk": pk})
        return f"{reverse(self.url_name, kwargs={'slug': slug})}#{self.anchor}-{pk}"


# Keyed by AuditEvent.target_type (the target's model name). Credential events target their
# connection; an account (sign-in lockout) has no page.
TARGET_PAGES: dict[str, TargetPage] = {
    "providerconnection": TargetPage("connections", "providers:detail", PROVIDER_VIEW),
    "operationrun": TargetPage("runs", "operations:run", PROVIDER_VIEW),
    "membership": TargetPage("memberships", "members:list", WORKSPACE_MANAGE, anchor="member"),
    "invitation": TargetPage(
        "invitations", "members:list", WORKSPACE_MANAGE, anchor="invitation", shown=_pending
    ),
    "apitoken": TargetPage(
        "api_tokens", "accounts:tokens", PROVIDER_VIEW, anchor="token", shown=_visible_tokens
    ),
    "onboarding": TargetPage("onboardings", "onboarding:list", PROVIDER_VIEW, anchor="onboarding"),
}


# What the log calls each kind of target (AuditEvent.target_type is the model's name).
TARGET_KIND_LABELS: dict[str, str] = {
    "providerconnection": "Connection",
    "operationrun": "Run",
    "membership": "Member",
    "invitation": "Invitation",
    "apitoken": "API token",
    "partnerapp": "Partner app",
    "onboarding": "Onboarding",
    "workspace": "Workspace",
    "user": "Account",
}


def target_kind_label(target_type: str) -> str:
    return TARGET_KIND_LABELS.get(target_type, target_type.replace("_", " ").capitalize())


def _pks(ids: Iterable[str]) -> list[int]:
    return [int(i) for i in ids if i.isdigit()]


def _existing(page: TargetPage, member: Membership, ids: Iterable[str]) -> Iterable[Any]:
    """The pks among ids of objects of the member's workspace that page shows them (one query)."""
    workspace = member.workspace
    model = getattr(type(workspace), page.relation).rel.related_model
    objects = model.objects.for_workspace(workspace).filter(pk__in=_pks(ids))
    return page.shown(objects, member).values_list("pk", flat=True)


def link_targets(events: Iterable[AuditEvent], member: Membership) -> None:
    """Set ``target_url`` on each event (its target's page, or None: gone, hidden, no page) and
    ``target_kind`` (what the log calls the kind of target)."""
    events = list(events)
    wanted: dict[str, set[str]] = defaultdict(set)
    for event in events:
        event.target_url = None  # type: ignore[attr-defined]
        event.target_kind = target_kind_label(event.target_type)  # type: ignore[attr-defined]
        page = TARGET_PAGES.get(event.target_type)
        if page is not None and event.target_id and can(member, page.capability):
            wanted[event.target_type].add(event.target_id)
    slug = member.workspace.slug
    urls = {
        (target_type, str(pk)): TARGET_PAGES[target_type].url(slug, pk)
        for target_type, ids in wanted.items()
        for pk in _existing(TARGET_PAGES[target_type], member, ids)
    }
    for event in events:
        event.target_url = urls.get((event.target_type, event.target_id))  # type: ignore[attr-defined]
