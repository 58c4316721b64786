"""The audit log page and its CSV export (audit.view only)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.core.paginator import Paginator
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from tenantatlas.audit.models import AuditEvent
from tenantatlas.audit.targets import link_targets
from tenantatlas.lib.csv_export import csv_response
from tenantatlas.workspaces.access import workspace_view
from tenantatlas.workspaces.capabilities import AUDIT_VIEW
from tenantatlas.workspaces.requests import WorkspaceRequest

CSV_COLUMNS = [
    "created_at",
    "actor",
    "action",
    "target_type",
    "target_id",
    "target",
    "ip",
    "request_id",
    "via",
    "metadata",
]


class AuditFilterForm(forms.Form):
    action = forms.CharField(required=False, max_length=60)
    actor = forms.CharField(required=False, max_length=200)
    target_type = forms.CharField(required=False, max_length=60)
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))


def _filtered(request: WorkspaceRequest) -> tuple[AuditFilterForm, Any]:
    form = AuditFilterForm(request.GET or None)
    events = AuditEvent.objects.for_workspace(request.workspace)
    if form.is_valid():
        data = form.cleaned_data
        if data["action"]:
            events = events.filter(action__startswith=data["action"])
        if data["actor"]:
            events = events.filter(actor_label__icontains=data["actor"])
        if data["target_type"]:
            events = events.filter(target_type=data["target_type"])
        if data["since"]:
            events = events.filter(created_at__date__gte=data["since"])
        if data["until"]:
            events = events.filter(created_at__date__lte=data["until"])
    return form, events


@workspace_view(AUDIT_VIEW)
def audit_log(request: WorkspaceRequest) -> HttpResponse:
    form, events = _filtered(request)
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    page.object_list = list(page.object_list)
    link_targets(page.object_list, request.member)
    actions = (
        AuditEvent.objects.for_workspace(request.workspace)
        .order_by("action")
        .values_list("action", flat=True)
        .distinct()
    )
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "audit/log.html",
        {"form": form, "page": page, "actions": actions, "query": query.urlencode()},
    )


@workspace_view(AUDIT_VIEW)
def audit_export(request: WorkspaceRequest) -> StreamingHttpResponse:
    _, events = _filtered(request)
    rows = (
        (
            e.created_at.isoformat(),
            e.actor_label,
            e.action,
            e.target_type,
            e.target_id,
            e.target_label,
            e.ip,
            e.request_id,
            e.via,
            e.metadata,
        )
        for e in events.iterator(chunk_size=1000)
    )
    return csv_response(CSV_COLUMNS, rows, filename=f"audit-{request.workspace.slug}.csv")
