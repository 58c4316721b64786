"""Microsoft's routes: which half of the simulator answers a request to the authority or Graph.

Graph (``/v1.0``, ``/beta``; throttled before anything else), the identity platform's
discovery, keys and token endpoints, the browser's admin consent and authorize pages, and
Teams Workflows triggers. The server passes itself as the ``host`` and keeps the simulator's
own control routes (``control.py``).
"""

from __future__ import annotations

import urllib.parse
from typing import Protocol

from tenantatlas.simulator import teams
from tenantatlas.simulator.browser import BrowserFlows
from tenantatlas.simulator.errors import IdentityError, Reply
from tenantatlas.simulator.graph import GraphService
from tenantatlas.simulator.identity import Authority
from tenantatlas.simulator.limits import Limiter
from tenantatlas.simulator.transport import RequestKind

type Routed = tuple[Reply, RequestKind, str | None, str | None]


class MicrosoftHost(Protocol):
    """The halves of the server the routes hand requests to."""

    authority: Authority
    browser: BrowserFlows
    graph: GraphService
    teams: teams.TeamsWorkflows
    limiter: Limiter


def route(
    host: MicrosoftHost,
    method: str,
    path: str,
    query: dict[str, str],
    headers: dict[str, str],
    body: bytes,
    origins: list[str],
) -> Routed:
    """Dispatch one request to Microsoft's endpoints (404 for a path none of them has)."""
    origin = origins[0]
    parts = [p for p in path.split("/") if p]
    try:
        if parts[:1] in (["v1.0"], ["beta"]):
            limited = host.limiter.check(headers)  # Graph throttles before anything else
            if limited is not None:
                return limited[0], "graph", limited[1], limited[2]
            reply, tenant_id, client_id = host.graph.handle(method, origin, path, query, headers)
            return reply, "graph", tenant_id, client_id
        if parts == ["common", "discovery", "instance"]:
            return host.authority.instance_discovery(origin), "discovery", None, None
        if len(parts) == 4 and parts[1:] == ["v2.0", ".well-known", "openid-configuration"]:
            reply, tenant = host.authority.discovery(origin, parts[0])
            return reply, "discovery", tenant.tenant_id if tenant else None, None
        if len(parts) == 3 and parts[1:] == ["v2.0", "adminconsent"]:
            params = _browser_params(method, query, body)
            reply, tenant_id, client_id = host.browser.admin_consent(method, parts[0], params)
            return reply, "browser", tenant_id, client_id
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "authorize"]:
            params = _browser_params(method, query, body)
            reply, tenant_id, client_id = host.browser.authorize(method, parts[0], params)
            return reply, "browser", tenant_id, client_id
        if len(parts) == 4 and parts[1:] == ["discovery", "v2.0", "keys"]:
            return host.authority.keys(origin, parts[0]), "discovery", None, None
        if len(parts) == 4 and parts[1:] == ["oauth2", "v2.0", "token"]:
            return _token(host.authority, method, origins, parts[0], headers, body)
        if teams.is_trigger_path(parts):
            return host.teams.handle(method, parts, query, headers, body), "teams", None, None
    except IdentityError as exc:
        kind: RequestKind = "token" if path.endswith("/token") else "discovery"
        return exc.reply(), kind, None, None
    reply = Reply.json(404, {"error": "not_found", "error_description": f"No route for {path}"})
    return reply, "other", None, None


def _token(
    authority: Authority,
    method: str,
    origins: list[str],
    segment: str,
    headers: dict[str, str],
    body: bytes,
) -> Routed:
    if method != "POST":
        error = IdentityError(
            400,
            "invalid_request",
            900561,
            "The endpoint only accepts POST, OPTIONS requests. Received a GET request.",
        )
        return error.reply(), "token", None, None
    form = dict(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
    outcome = authority.token(origins, segment, form, headers.get("authorization", ""))
    return outcome.reply, "token", outcome.tenant_id, outcome.client_id


def _browser_params(method: str, query: dict[str, str], body: bytes) -> dict[str, str]:
    """The request's parameters: the query string, and for a POST the form fields on top."""
    params = dict(query)
    if method == "POST":
        form = urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        params.update(form)
    return params
