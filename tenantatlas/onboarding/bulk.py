"""Bulk add: many customer tenants for the partner app at once, from a pasted or uploaded list.

One entry per line: a tenant id (GUID), optionally followed by a display name after a comma
(CSV quoting allowed); blank lines, ``#`` comments and header lines
(``tenant_id,name``) are ignored. Every row is judged on its own: a malformed id, a repeat of an
earlier row, a tenant already connected in the workspace each give that row an error with its
reason, and every valid row becomes a connection of the partner app through
``create_connection`` in its own transaction (a savepoint when called inside one), so a row that
fails leaves nothing behind and never undoes the rows before it.

A verified domain is resolved to the tenant it names through Microsoft's OpenID discovery
(``tenantatlas.graph.discovery``: the issuer of ``/{domain}/v2.0``), eight at a time, once the
list has been read; a domain Microsoft does not know, or an answer that did not come, is that
row's error. Two rows naming the same tenant (by id or domain) keep the first.

The connection checks are started afterwards ("Check all"), through the start gate like any
bulk start.
"""

from __future__ import annotations

import csv
import logging
import uuid
from dataclasses import dataclass, field

from django.db import transaction

from tenantatlas.audit.services import record_event
from tenantatlas.graph.clouds import get_cloud
from tenantatlas.graph.discovery import DomainLookupFailed, tenants_for_domains
from tenantatlas.lib.actors import Actor
from tenantatlas.lib.errors import InvalidInput, Refused
from tenantatlas.onboarding.services import _DOMAIN
from tenantatlas.providers.models import PartnerApp, ProviderConnection
from tenantatlas.providers.services.connections import create_connection
from tenantatlas.workspaces.models import Workspace

logger = logging.getLogger(__name__)

MAX_ROWS = 1000
NAME_MAX = 100
_HEADERS = {"tenant", "tenant_id", "tenant id", "tenantid", "entra_tenant_id", "domain"}

# Why a row was not added (``BulkRow.error_code``), in words for the page and the API.
ROW_ERRORS: dict[str, str] = {
    "invalid_tenant": "Not a tenant id: enter the Entra tenant id, a GUID such as "
    "4e4e4e4e-5f5f-4a6a-8b7b-9c9c9c9c9c9c.",
    "domain_unknown": "Microsoft knows no tenant with this domain: check its spelling, or enter "
    "the tenant id (Entra admin center → Overview → Tenant ID).",
    "domain_unreachable": "Microsoft could not be asked which tenant this domain names; nothing "
    "was added for this line: try it again, or enter the tenant id.",
    "name_too_long": f"The name is longer than {NAME_MAX} characters.",
    "duplicate_in_list": "The same tenant is on an earlier line of this list.",
    "failed": "Could not be added because of an unexpected error (logged); nothing was kept "
    "for this line. Try it again.",
}


class BulkListRefused(InvalidInput):
    """The list as a whole is refused (too many rows, not text, empty): nothing is added."""


@dataclass
class BulkRow:
    """One line of the list: what it asked for and what became of it."""

    line: int
    entry: str
    name: str = ""
    tenant_id: str = ""
    domain: str = ""  # a verified domain, until it is resolved to ``tenant_id``
    error_code: str = ""
    error: str = ""
    connection: ProviderConnection | None = None

    @property
    def created(self) -> bool:
        return self.connection is not None

    def refuse(self, code: str, message: str = "") -> None:
        self.error_code = code
        self.error = message or ROW_ERRORS[code]


@dataclass
class BulkAddResult:
    """Every row of the list in its order, with the connections created."""

    partner_app: PartnerApp
    rows: list[BulkRow] = field(default_factory=list)

    @property
    def created(self) -> list[ProviderConnection]:
        return [row.connection for row in self.rows if row.connection is not None]

    @property
    def failed(self) -> list[BulkRow]:
        return [row for row in self.rows if row.error_code]

    def counts(self) -> dict[str, int]:
        return {"rows": len(self.rows), "created": len(self.created), "failed": len(self.failed)}


def parse_bulk_list(text: str) -> list[BulkRow]:
    """The list's rows with their tenant ids, or each row's error (nothing is written)."""
    text = text.lstrip("\ufeff")
    numbered = [
        (number, line.strip())
        for number, line in enumerate(text.splitlines(), start=1)
        if line.strip() and not line.strip().startswith("#") and not _is_header(line)
    ]
    if not numbered:
        raise BulkListRefused("The list is empty: enter one tenant id per line.", code="empty")
    if len(numbered) > MAX_ROWS:
        raise BulkListRefused(
            f"The list has {len(numbered)} entries: at most {MAX_ROWS} can be added at once. "
            "Split it; nothing was added.",
            code="too_many_rows",
        )
    rows: list[BulkRow] = []
    seen: dict[str, int] = {}
    for number, line in numbered:
        cells = next(csv.reader([line], skipinitialspace=True), [""])
        entry = cells[0].strip() if cells else ""
        row = BulkRow(line=number, entry=entry[:255], name=",".join(cells[1:]).strip())
        rows.append(row)
        tenant_id = _guid(entry)
        if tenant_id is None:
            if _DOMAIN.match(entry.lower()) is None:
                row.refuse("invalid_tenant")
            elif len(row.name) > NAME_MAX:
                row.refuse("name_too_long")
            else:
                row.domain = entry.lower()  # resolved by resolve_domains
            continue
        row.tenant_id = tenant_id
        if len(row.name) > NAME_MAX:
            row.refuse("name_too_long")
        else:
            _keep_first(row, seen)
    return rows


def _keep_first(row: BulkRow, seen: dict[str, int]) -> None:
    """Refuse a row whose tenant an earlier row of the list names already."""
    if row.tenant_id in seen:
        row.refuse(
            "duplicate_in_list", f"The same tenant is on line {seen[row.tenant_id]} of this list."
        )
    else:
        seen[row.tenant_id] = row.line


def resolve_domains(rows: list[BulkRow], cloud: str) -> None:
    """Give each domain row the tenant Microsoft says it names, or its error; then refuse any
    row naming a tenant an earlier row names (by id or by domain)."""
    pending = [row for row in rows if row.domain and not row.error_code]
    if pending:
        found = tenants_for_domains(get_cloud(cloud), (row.domain for row in pending))
        for row in pending:
            answer = found[row.domain]
            if isinstance(answer, DomainLookupFailed):
                row.refuse("domain_unknown" if answer.code == "unknown" else "domain_unreachable")
            else:
                row.tenant_id = answer
    seen: dict[str, int] = {}
    for row in rows:
        if row.tenant_id and not row.error_code:
            _keep_first(row, seen)


def _is_header(line: str) -> bool:
    """A CSV header line (``tenant_id,name``), also where an uploaded file begins mid-list."""
    return line.split(",")[0].strip().strip('"').lower() in _HEADERS


def _guid(value: str) -> str | None:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return None


def add_connections_in_bulk(
    *, actor: Actor, workspace: Workspace, partner_app: PartnerApp, text: str
) -> BulkAddResult:
    """Add a connection of ``partner_app`` for each valid row of ``text``; audited once with
    the counts (and each connection by its own ``connection.created``).

    Raises BulkListRefused for a list refused as a whole. Call it outside a transaction when the
    rows should commit one by one.
    """
    if partner_app.workspace_id != workspace.pk:
        raise Refused("This partner app belongs to another workspace.", code="not_found")
    result = BulkAddResult(partner_app=partner_app, rows=parse_bulk_list(text))
    resolve_domains(result.rows, partner_app.cloud)
    for row in result.rows:
        if not row.error_code:
            _add_one(row, actor=actor, workspace=workspace, partner_app=partner_app)
    failed: dict[str, int] = {}
    for row in result.failed:
        failed[row.error_code] = failed.get(row.error_code, 0) + 1
    record_event(
        workspace=workspace,
        actor=actor,
        action="onboarding.bulk_added",
        target=partner_app,
        metadata={**result.counts(), "errors": failed},
    )
    return result


def _add_one(row: BulkRow, *, actor: Actor, workspace: Workspace, partner_app: PartnerApp) -> None:
    try:
        with transaction.atomic():
            row.connection = create_connection(
                actor=actor,
                workspace=workspace,
                display_name=row.name or f"Tenant {row.tenant_id}",
                entra_tenant_id=row.tenant_id,
                partner_app=partner_app,
            )
    except (InvalidInput, Refused) as exc:
        row.refuse(exc.code, exc.message)  # e.g. duplicate_tenant: already connected here
    except Exception:
        # One row's unexpected failure is that row's error; its savepoint kept nothing of it.
        logger.exception("Bulk add: line %s (tenant %s) failed", row.line, row.tenant_id)
        row.refuse("failed")
