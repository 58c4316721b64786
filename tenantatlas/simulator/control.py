"""The simulator's own control endpoint under ``/_simulator/`` (no Microsoft service has it).

``POST tenants/{tenant_id}/generation`` with ``{"generation": g, "entered_at": …}`` moves a
tenant to another generation from another process, as ``set_generation`` does in-process
(docs/simulator.md, "The control endpoint"); consents, users and authorization codes are
``consent_control.py``'s. The server passes itself as the ``host``.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Protocol

from tenantatlas.simulator import consent_control
from tenantatlas.simulator.consent_control import ConsentHost, control_error
from tenantatlas.simulator.errors import Reply
from tenantatlas.simulator.scenarios import TenantScenario

CONTROL_PREFIX = "_simulator"  # the simulator's own routes; Microsoft has nothing under it


class GenerationRefused(ValueError):
    """A move to another generation the simulator will not make (the control endpoint's 400)."""


class ControlHost(ConsentHost, Protocol):
    """What the control routes need of the server."""

    def set_generation(
        self, tenant_id: str, generation: int, entered_at: dt.datetime | None = None
    ) -> TenantScenario: ...
    def timeline(self, tenant_id: str) -> list[dt.datetime]: ...


def handle(
    host: ControlHost, method: str, parts: list[str], body: bytes
) -> tuple[Reply, str | None]:
    """Answer one control request (``parts``: the path below the prefix); returns the reply and
    the tenant it concerns, for the request log."""
    answered = consent_control.handle(host, method, parts, body)
    if answered is not None:
        return answered
    if len(parts) != 3 or parts[0] != "tenants" or parts[2] != "generation":
        return control_error(404, "not_found", "No such simulator control route."), None
    tenant = host.get_tenant(parts[1])
    if tenant is None:
        return control_error(404, "unknown_tenant", f"No simulated tenant {parts[1]!r}."), None
    if method != "POST":
        return control_error(405, "method_not_allowed", "Use POST.", Allow="POST"), None
    try:
        generation, entered_at = _generation_request(body)
        moved = host.set_generation(
            tenant.tenant_id, generation, entered_at or dt.datetime.now(dt.UTC)
        )
    except GenerationRefused as exc:
        return control_error(400, "refused", str(exc)), tenant.tenant_id
    timeline = [moment.isoformat() for moment in host.timeline(tenant.tenant_id)]
    payload = {"tenant_id": moved.tenant_id, "generation": moved.generation}
    return Reply.json(200, {**payload, "timeline": timeline}), tenant.tenant_id


def _generation_request(body: bytes) -> tuple[int, dt.datetime | None]:
    """The generation and the moment (None: not given) a control request asks for."""
    try:
        payload = json.loads(body or b"null")
    except ValueError:
        payload = None
    if not isinstance(payload, dict) or set(payload) - {"generation", "entered_at"}:
        raise GenerationRefused(
            'expected a JSON object {"generation": <int>, "entered_at": "<ISO 8601>"}'
        )
    generation = payload.get("generation")
    if isinstance(generation, bool) or not isinstance(generation, int):
        raise GenerationRefused("generation must be a whole number")
    text = payload.get("entered_at")
    if text is None:
        return generation, None
    try:
        entered_at = dt.datetime.fromisoformat(text) if isinstance(text, str) else None
    except ValueError:
        entered_at = None
    if entered_at is None:
        raise GenerationRefused(f"entered_at {text!r} is not an ISO 8601 date and time")
    return generation, entered_at
