"""Provider connection pages. Every page renders from the database only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.views.decorators.http import require_http_methods, require_POST
from django_htmx.http import trigger_client_event

from tenantatlas.lib.errors import Refused
from tenantatlas.lib.pages import render_polling
from tenantatlas.operations.bulk import start_on_connections
from tenantatlas.operations.models import OperationRun, Trigger
from tenantatlas.operations.registry import OPERATION_ACTIONS, OPERATIONS, UnknownOperation
from tenantatlas.operations.schedules import INTERVAL_CHOICES, set_schedule
from tenantatlas.operations.services import ScopeBusy, start_operation
from tenantatlas.providers.credential_views import rotation_panel
from tenantatlas.providers.filters import FILTER_NAMES, ConnectionFilterForm
from tenantatlas.providers.forms import (
    ChooseDefaultForm,
    ConnectionForm,
    ScheduleForm,
)
from tenantatlas.providers.models import ConnectionQuerySet, ConnectionStatus, ProviderConnection
from tenantatlas.providers.permissions import manifest_snippet, needed_permissions
from tenantatlas.providers.services.connections import (
    create_connection,
    delete_connection,
    set_connection_status,
    update_connection,
)
from tenantatlas.providers.services.defaults import set_default_connection
from tenantatlas.workspaces.access import get_object_for_member, workspace_view
from tenantatlas.workspaces.capabilities import PROVIDER_MANAGE, PROVIDER_RUN, PROVIDER_VIEW
from tenantatlas.workspaces.requests import WorkspaceRequest

CONNECTIONS_PER_PAGE = 50


def _connections(request: WorkspaceRequest) -> ConnectionQuerySet:
    return ProviderConnection.objects.with_current_credential()


def _get_connection(request: WorkspaceRequest, pk: int) -> ProviderConnection:
    return get_object_for_member(_connections(request), request.member, pk=pk)


def _to_list(request: WorkspaceRequest) -> HttpResponse:
    return redirect("providers:list", slug=request.workspace.slug)


def _with_active_runs(
    connections: list[ProviderConnection],
) -> list[tuple[ProviderConnection, OperationRun | None]]:
    """Each connection with its queued or running run (or None), all fetched in one query."""
    found: dict[int, OperationRun] = {}
    if connections:
        runs = OperationRun.objects.active().filter(connection__in=[c.pk for c in connections])
        for run in runs.order_by("created_at", "pk"):
            found.setdefault(run.connection_id, run)
    return [(connection, found.get(connection.pk)) for connection in connections]


@workspace_view(PROVIDER_VIEW)
def connection_list(request: WorkspaceRequest) -> HttpResponse:
    """Paged (50 a page), searchable, filtered and sorted by GET parameters (filters.py); the
    table polls while a run on a connection it shows is queued or running."""
    form = ConnectionFilterForm(request.GET or None)
    connections = form.apply(_connections(request).for_workspace(request.workspace))
    page = Paginator(connections, CONNECTIONS_PER_PAGE).get_page(request.GET.get("page"))
    rows = _with_active_runs(list(page.object_list))
    active = any(run is not None for _, run in rows)
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "rows": rows,
        "page": page,
        "form": form,
        "query": query.urlencode(),
        "active": active,
        "fragment": "#connections-table",
    }
    return render_polling(request, "providers/list.html", context, active=active)


@workspace_view(PROVIDER_VIEW)
def connection_detail(request: WorkspaceRequest, pk: int) -> HttpResponse:
    """The connection's facts; its current run (queued or running) refreshes itself by polling."""
    connection = _get_connection(request, pk)
    current_run = connection.runs.active().order_by("created_at", "pk").first()
    active = current_run is not None
    context: dict[str, Any] = {
        "connection": connection,
        "current_run": current_run,
        "active": active,
        "fragment": "#current-run",
    }
    if request.htmx:
        # A poll asks for the current-run fragment only; once the run has ended it says how.
        context["last_run"] = None if active else connection.runs.first()
        return render_polling(request, "providers/detail.html", context, active=active)
    schedules = {s.operation_type: s for s in connection.schedules.all()}
    context.update(
        credential_history=connection.credentials.all()[:10],
        # A partner app's connection shows the app's new credential.
        rotation=rotation_panel(connection.partner_app or connection),
        inventory_counts=connection.inventory_items.values("kind")
        .annotate(
            present=Count("id", filter=Q(removed_at__isnull=True)),
            removed=Count("id", filter=Q(removed_at__isnull=False)),
        )
        .order_by("kind"),
        runs=connection.runs.all()[:10],
        snapshots=list(connection.compliance_snapshots.all()[:30]),
        schedule_rows=[(key, label, schedules.get(key)) for key, label in OPERATION_ACTIONS],
        interval_choices=INTERVAL_CHOICES,
    )
    return render_polling(request, "providers/detail.html", context, active=active)


@workspace_view(PROVIDER_VIEW)
def connection_actions(request: WorkspaceRequest, pk: int) -> HttpResponse:
    """The items of a connection's actions menu, fetched when its menu on the list first opens:
    only what this person may do on it (an empty menu when nothing)."""
    connection = _get_connection(request, pk)
    base = reverse("providers:detail", args=[request.workspace.slug, connection.pk])
    context = {"connection": connection, "base": base}
    return render(request, "providers/_row_actions_items.html", context)


@workspace_view(PROVIDER_MANAGE)
def connection_create(request: WorkspaceRequest) -> HttpResponse:
    form = ConnectionForm(request.POST if request.method == "POST" else None, request.FILES or None)
    if request.method == "POST" and form.is_valid():
        credential = form.credential_input()
        assert credential is not None  # the form requires one on create
        try:
            connection = create_connection(
                actor=request.user,
                workspace=request.workspace,
                display_name=form.cleaned_data["display_name"],
                entra_tenant_id=str(form.cleaned_data["entra_tenant_id"]),
                cloud=form.cleaned_data["cloud"],
                credential=credential,
            )
        except Refused as exc:
            form.add_error(getattr(exc, "field", None), exc.message)
        else:
            messages.success(request, f"Connection “{connection.display_name}” created.")
            return redirect("providers:detail", slug=connection.workspace.slug, pk=connection.pk)
    context = {
        "form": form,
        "connection": None,
        "graph_permissions": needed_permissions(),
        "manifest_snippet": manifest_snippet(),
    }
    return render(request, "providers/form.html", context)


@workspace_view(PROVIDER_MANAGE)
def connection_edit(request: WorkspaceRequest, pk: int) -> HttpResponse:
    connection = _get_connection(request, pk)
    form = ConnectionForm(
        request.POST if request.method == "POST" else None,
        request.FILES or None,
        connection=connection,
    )
    if request.method == "POST" and form.is_valid():
        try:
            update_connection(
                actor=request.user,
                connection=connection,
                display_name=form.cleaned_data["display_name"],
                entra_tenant_id=str(form.cleaned_data["entra_tenant_id"]),
                cloud=form.cleaned_data["cloud"],
                client_id=str(form.cleaned_data["client_id"]),
                credential=form.credential_input(),
            )
        except Refused as exc:
            form.add_error(getattr(exc, "field", None), exc.message)
        else:
            messages.success(request, "Connection saved.")
            return redirect("providers:detail", slug=connection.workspace.slug, pk=connection.pk)
    return render(request, "providers/form.html", {"form": form, "connection": connection})


@workspace_view(PROVIDER_MANAGE)
@require_POST
def connection_set_default(request: WorkspaceRequest, pk: int) -> HttpResponse:
    connection = _get_connection(request, pk)
    try:
        set_default_connection(actor=request.user, connection=connection)
    except Refused as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"“{connection.display_name}” is now the default connection.")
    return _to_list(request)


def _confirm_handing_over_default(
    request: WorkspaceRequest,
    connection: ProviderConnection,
    action: str,
    perform: Callable[[ProviderConnection | None], str],
) -> HttpResponse:
    """Confirmation page for actions that may need another connection to become the default."""
    form = ChooseDefaultForm(
        request.POST if request.method == "POST" else None, connection=connection
    )
    if request.method == "POST" and form.is_valid():
        try:
            done = perform(form.cleaned_data["new_default"])
        except Refused as exc:
            form.add_error("new_default", exc.message)
        else:
            messages.success(request, done)
            return _to_list(request)
    return render(
        request,
        "providers/confirm.html",
        {"form": form, "connection": connection, "action": action},
    )


@workspace_view(PROVIDER_MANAGE)
def connection_status(request: WorkspaceRequest, pk: int) -> HttpResponse:
    """Enable at once; disabling the default asks which connection takes over."""
    connection = _get_connection(request, pk)
    enable = request.POST.get("enabled") == "1"

    def perform(new_default: ProviderConnection | None) -> str:
        was_default = connection.is_default
        set_connection_status(
            actor=request.user, connection=connection, enabled=enable, new_default=new_default
        )
        if enable and connection.is_default and not was_default:
            return "Connection enabled. It is now the default connection (there was none)."
        return f"Connection {'enabled' if enable else 'disabled'}."

    return _confirm_handing_over_default(request, connection, "disable", perform)


@workspace_view(PROVIDER_MANAGE)
def connection_delete(request: WorkspaceRequest, pk: int) -> HttpResponse:
    connection = _get_connection(request, pk)

    def perform(new_default: ProviderConnection | None) -> str:
        delete_connection(actor=request.user, connection=connection, new_default=new_default)
        return f"Connection “{connection.display_name}” deleted."

    return _confirm_handing_over_default(request, connection, "delete", perform)


@workspace_view(PROVIDER_RUN)
@require_POST
def connection_start_operation(
    request: WorkspaceRequest, pk: int, operation_type: str
) -> HttpResponse:
    """Start surface: create or reuse the run, answer at once with a toast linking to it."""
    connection = _get_connection(request, pk)
    try:
        result = start_operation(
            actor=request.user,
            member=request.member,
            connection=connection,
            operation_type=operation_type,
            trigger=Trigger.UI,
        )
    except UnknownOperation:
        raise Http404("Unknown operation") from None
    except ScopeBusy as exc:
        toast = _run_toast(request, messages.WARNING, exc.message, exc.active_run)
    except Refused as exc:
        toast = (messages.ERROR, exc.message, "")
    else:
        level = messages.SUCCESS if result.created else messages.INFO
        toast = _run_toast(request, level, result.message, result.run)
    level, text, url = toast
    if request.htmx:
        response = render(
            request,
            "providers/_toast.html",
            {"level": messages.DEFAULT_TAGS[level], "text": text, "url": url},
        )
        # The list and the detail page listen, to show (and follow) the run at once.
        return trigger_client_event(response, "connection-runs-changed")
    messages.add_message(
        request, level, format_html('{} · <a href="{}">View run</a>', text, url) if url else text
    )
    return redirect(
        _safe_next(request) or reverse("providers:list", kwargs={"slug": connection.workspace.slug})
    )


@workspace_view(PROVIDER_RUN)
@require_http_methods(["GET", "POST"])
def connections_run_all(request: WorkspaceRequest, operation_type: str) -> HttpResponse:
    """Run one operation on every connection the list's filter shows (all its pages): GET asks,
    naming the count; POST starts each through the start gate and answers with the summary.
    An htmx request gets the panel only (the list then refreshes and follows the runs)."""
    operation = OPERATIONS.get(operation_type)
    if operation is None:
        raise Http404("Unknown operation")
    form = ConnectionFilterForm(request.POST if request.method == "POST" else request.GET)
    context: dict[str, Any] = {"operation": operation, "filters": _filters(form)}
    if form.errors:  # never widen a run to all connections because a filter was not understood
        return _run_all_panel(request, "refused", context, status=400)
    context["filter_words"] = _filter_words(form, context["filters"])
    connections = form.apply(ProviderConnection.objects.for_workspace(request.workspace))
    if request.method != "POST":
        enabled = Count("pk", filter=Q(status=ConnectionStatus.ENABLED))
        counts = connections.aggregate(total=Count("pk"), enabled=enabled)
        counts["disabled"] = counts["total"] - counts["enabled"]
        context.update(counts=counts, shown=counts["total"])
        return _run_all_panel(request, "confirm", context)
    summary = start_on_connections(
        actor=request.user,
        member=request.member,
        operation_type=operation.key,
        connections=connections,
        trigger=Trigger.UI,
        filters=context["filters"],
    )
    context.update(summary=summary, shown=summary.total)
    response = _run_all_panel(request, "summary", context)
    return trigger_client_event(response, "connection-runs-changed")


def _filters(form: ConnectionFilterForm) -> dict[str, str]:
    """The list's filter (and sort) as given, for the confirmation's form and the audit entry."""
    if not form.is_bound or not form.is_valid():
        return {}
    return {name: form.cleaned_data[name] for name in FILTER_NAMES if form.cleaned_data[name]}


def _filter_words(form: ConnectionFilterForm, filters: dict[str, str]) -> list[tuple[str, str]]:
    """(label, shown value) of each filter that narrows the list; the sort narrows nothing."""
    words = []
    for name, value in filters.items():
        if name == "sort":
            continue
        choices = dict(getattr(form.fields[name], "choices", []))
        words.append((str(form.fields[name].label), str(choices.get(value, f"“{value}”"))))
    return words


def _run_all_panel(
    request: WorkspaceRequest, panel: str, context: dict[str, Any], *, status: int = 200
) -> HttpResponse:
    context.update(panel=panel, list_query=urlencode(context["filters"]))
    if request.htmx:
        # htmx swaps no 4xx answer: the refusal is shown in the panel like the others.
        return render(request, f"providers/run_all.html#run-all-{panel}", context)
    return render(request, "providers/run_all.html", context, status=status)


def _run_toast(
    request: WorkspaceRequest, level: int, text: str, run: OperationRun
) -> tuple[int, str, str]:
    return level, text, reverse("operations:run", kwargs={"slug": run.workspace.slug, "pk": run.pk})


def _safe_next(request: WorkspaceRequest) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return ""


@workspace_view(PROVIDER_MANAGE)
@require_POST
def connection_schedules(request: WorkspaceRequest, pk: int) -> HttpResponse:
    """Set or clear the recurring schedule of each operation on this connection."""
    connection = _get_connection(request, pk)
    form = ScheduleForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose one of the offered intervals.")
    else:
        set_schedule(
            actor=request.user,
            connection=connection,
            operation_type=form.cleaned_data["operation_type"],
            interval_minutes=form.interval(),
        )
        messages.success(request, "Schedule saved.")
    return redirect("providers:detail", slug=connection.workspace.slug, pk=connection.pk)
