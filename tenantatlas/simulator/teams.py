"""Microsoft Teams Workflows webhooks: the "When a Teams webhook request is received" trigger.

A workflow is what a Teams user creates from the "Post to a channel when a webhook request is
received" template: a trigger URL whose shared-access signature (``sig``) is the only credential,
and a flow that posts every Adaptive Card attachment of the request to a channel. The trigger
answers 202 as soon as the request is authenticated; whether the flow then posts or fails shows
only in the workflow's run history. The simulator keeps both: ``runs`` (the history, with the
failed action's error) and ``messages`` (what the channel shows). docs/simulator.md says which
answers are Microsoft's and which are the simulator's choices (docs/microsoft-facts.md).
"""

from __future__ import annotations

import copy
import datetime as dt
import hmac
import json
import re
import secrets
import threading
import time
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from tenantatlas.simulator.errors import Reply
from tenantatlas.simulator.faults import FaultCounters, Injected, retry_after_header
from tenantatlas.simulator.scenarios import Faults

UrlForm = Literal["logic-apps", "power-platform"]
RunStatus = Literal["Succeeded", "Failed"]

# The path before the workflow id and the api-version each URL form is issued with.
_PREFIXES: dict[UrlForm, tuple[str, ...]] = {
    "logic-apps": ("workflows",),
    "power-platform": ("powerautomate", "automations", "direct", "workflows"),
}
_API_VERSIONS: dict[UrlForm, str] = {"logic-apps": "2016-06-01", "power-platform": "1"}
_TRIGGER = ("triggers", "manual", "paths", "invoke")
SAS_PERMISSION = "/triggers/manual/run"
SAS_VERSION = "1.0"

ADAPTIVE_CARD = "application/vnd.microsoft.card.adaptive"
#: Cards above this version post but Teams cannot display them in a Workflows post.
MAX_CARD_VERSION = (1, 4)
#: Compact UTF-8 JSON of one card; below Teams' 28,672-byte message limit on purpose (the facts
#: file explains the margin).
CARD_SIZE_LIMIT = 20 * 1024
_VERSION = re.compile(r"^(\d+)\.(\d+)$")
_FAULT_CODES = {
    500: "InternalServerError",
    502: "BadGateway",
    503: "ServiceUnavailable",
    504: "GatewayTimeout",
}


@dataclass(frozen=True)
class Workflow:
    """A workflow's trigger as its owner copies it: the URL is the secret."""

    workflow_id: str
    sig: str
    url: str
    form: UrlForm


@dataclass(frozen=True)
class WorkflowRun:
    """One run of a workflow as its run history shows it; ``cards`` were posted to the channel."""

    run_id: str
    at: dt.datetime
    status: RunStatus
    error: str | None
    cards: tuple[dict[str, Any], ...]


@dataclass
class _Registered:
    workflow: Workflow
    faults: Faults
    schema_validation: bool
    card_size_limit: int
    runs: list[WorkflowRun] = field(default_factory=list)


def is_trigger_path(parts: list[str]) -> bool:
    """Whether a request path is a workflow trigger URL (either form)."""
    return _parse(parts) is not None


def _parse(parts: list[str]) -> tuple[UrlForm, str] | None:
    lowered = [part.lower() for part in parts]
    for form, prefix in _PREFIXES.items():
        n = len(prefix)
        if (
            len(parts) == n + 1 + len(_TRIGGER)
            and tuple(lowered[:n]) == prefix
            and tuple(lowered[n + 1 :]) == _TRIGGER
        ):
            return form, parts[n]
    return None


def redacted(query: dict[str, str]) -> dict[str, str]:
    """A trigger URL's query without its signature, for the request log."""
    return {key: "<redacted>" if key == "sig" else value for key, value in query.items()}


def _error(status: int, code: str, message: str, **headers: str) -> Reply:
    return Reply.json(status, {"error": {"code": code, "message": message}}, **headers)


def _json_type(value: Any) -> str:
    """The type name Power Automate's errors use (Newtonsoft's)."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int):
        return "Integer"
    if isinstance(value, float):
        return "Float"
    if isinstance(value, str):
        return "String"
    return "Array" if isinstance(value, list) else "Object"


def _card_problem(attachment: Any) -> str | None:
    """What makes one attachment no Adaptive Card Teams would display, if anything."""
    if not isinstance(attachment, dict):
        return f"Invalid type. Expected Object but got {_json_type(attachment)}."
    if attachment.get("contentType") != ADAPTIVE_CARD:
        return f"Attachment contentType must be '{ADAPTIVE_CARD}', got {attachment.get('contentType')!r}."
    card = attachment.get("content")
    if not isinstance(card, dict) or card.get("type") != "AdaptiveCard":
        return (
            "The specified Teams flowbot adaptive card request is missing or invalid. "
            "Property 'type' must be 'AdaptiveCard'"
        )
    version = card.get("version")
    matched = _VERSION.match(version) if isinstance(version, str) else None
    if matched is None:
        return f"Property 'version' must be a string such as '1.4', got {version!r}."
    if (int(matched[1]), int(matched[2])) > MAX_CARD_VERSION:
        return (
            f"Card version '{version}' is above 1.4, the highest a Workflows post displays "
            "(Teams shows \"We're sorry, this card couldn't be displayed\")."
        )
    if "body" in card and not isinstance(card["body"], list):
        return f"Property 'body' must be an array, got {_json_type(card['body'])}."
    return None


def _content_problem(card: dict[str, Any], size_limit: int) -> str | None:
    """What the flow's post action refuses in a well-formed card: actions and size."""
    actions = card.get("actions", [])
    if not isinstance(actions, list):
        return f"Property 'actions' must be an array, got {_json_type(actions)}."
    for action in actions:
        kind = action.get("type") if isinstance(action, dict) else None
        if kind == "Action.Submit":
            return "Action.Submit is not supported in cards posted through a webhook."
        if kind == "Action.OpenUrl" and not str(action.get("url") or "").startswith(
            ("https://", "http://")
        ):
            return "Action.OpenUrl requires an absolute 'url'."
        if not isinstance(kind, str):
            return "Every action needs a 'type'."
    size = len(json.dumps(card, separators=(",", ":"), ensure_ascii=False).encode())
    if size > size_limit:
        return (
            "MessageSizeExceeded-Message properties size exceeded. Actual message properties "
            f"size: {size} bytes, whereas max allowed size is {size_limit} bytes"
        )
    return None


def _schema_problem(payload: Any) -> str | None:
    """What a trigger with a request schema and Schema Validation on refuses (HTTP 400)."""
    if not isinstance(payload, dict):
        return f"Invalid type. Expected Object but got {_json_type(payload)}."
    if "attachments" not in payload:
        return "Required properties are missing from object: attachments."
    if not isinstance(payload["attachments"], list):
        return f"Invalid type. Expected Array but got {_json_type(payload['attachments'])}."
    if payload.get("type") != "message":
        return f"Property 'type' must be 'message', got {payload.get('type')!r}."
    return next(filter(None, map(_card_problem, payload["attachments"])), None)


def _run_outcome(payload: Any, size_limit: int) -> tuple[str | None, list[dict[str, Any]]]:
    """What the template's flow does with a request: (first error, cards posted)."""
    attachments = payload.get("attachments") if isinstance(payload, dict) else None
    if not isinstance(attachments, list):
        return (
            "The execution of template action 'Send_each_adaptive_card' failed: the result of "
            "the evaluation of 'foreach' expression '@triggerOutputs()?['body']?['attachments']' "
            f"is of type '{_json_type(attachments)}'. The result must be a valid array.",
            [],
        )
    if payload.get("type") != "message":
        return f"Property 'type' must be 'message', got {payload.get('type')!r}.", []
    errors: list[str] = []
    posted: list[dict[str, Any]] = []
    # Each iteration of the foreach posts or fails on its own; the run fails if any failed.
    for attachment in attachments:
        problem = _card_problem(attachment) or _content_problem(attachment["content"], size_limit)
        if problem is None:
            posted.append(copy.deepcopy(attachment["content"]))
        else:
            errors.append(problem)
    return (errors[0] if errors else None), posted


def _fault_reply(injected: Injected) -> Reply:
    headers: dict[str, str] = {}
    retry_after = retry_after_header(injected.retry_after)
    if retry_after is not None:
        headers["Retry-After"] = retry_after
    if injected.status == 429:
        return _error(429, "WorkflowRequestsThrottled", "Rate limit is exceeded.", **headers)
    code = _FAULT_CODES.get(injected.status, "ServiceUnavailable")
    return _error(injected.status, code, "The service is temporarily unavailable.", **headers)


class TeamsWorkflows:
    """The workflows the simulator serves, their fault counters and run histories."""

    def __init__(self, base_url: Callable[[], str]) -> None:
        self._base_url = base_url
        self._lock = threading.Lock()
        self._workflows: dict[str, _Registered] = {}
        self._faults = FaultCounters()

    # -- the Python API ------------------------------------------------------------------
    def add_workflow(
        self,
        *,
        form: UrlForm = "logic-apps",
        faults: Faults | None = None,
        schema_validation: bool = False,
        card_size_limit: int = CARD_SIZE_LIMIT,
    ) -> Workflow:
        """Create a workflow and return its trigger URL (the simulator must be running).

        ``schema_validation``: the trigger refuses a body that is not a message of Adaptive Cards
        with 400, as a trigger whose owner added a request schema and turned Schema Validation
        on does; without it (the template's default) every authenticated request gets 202 and a
        bad one only fails the run.
        """
        workflow_id = uuid.uuid4().hex
        sig = secrets.token_urlsafe(32)
        query = urllib.parse.urlencode(
            {
                "api-version": _API_VERSIONS[form],
                "sp": SAS_PERMISSION,
                "sv": SAS_VERSION,
                "sig": sig,
            }
        )
        path = "/".join((*_PREFIXES[form], workflow_id, *_TRIGGER))
        workflow = Workflow(workflow_id, sig, f"{self._base_url()}/{path}?{query}", form)
        registered = _Registered(
            workflow, copy.deepcopy(faults or Faults()), schema_validation, card_size_limit
        )
        with self._lock:
            self._workflows[workflow_id] = registered
            self._faults.arm(workflow_id, registered.faults)
        return workflow

    def remove_workflow(self, workflow_id: str) -> None:
        """Delete a workflow: its URL answers 404 from now on."""
        with self._lock:
            self._workflows.pop(workflow_id.lower(), None)
            self._faults.forget(workflow_id)

    def set_faults(self, workflow_id: str, faults: Faults) -> None:
        """Replace a workflow's faults and re-arm their counters."""
        with self._lock:
            registered = self._workflows[workflow_id.lower()]
            registered.faults = copy.deepcopy(faults)
            self._faults.arm(workflow_id, registered.faults)

    def remaining_faults(self, workflow_id: str) -> tuple[int, int]:
        """(throttle, server error) answers the workflow still has in store."""
        return self._faults.remaining(workflow_id)

    def runs(self, workflow_id: str) -> list[WorkflowRun]:
        """The workflow's run history, oldest first (one run per accepted request)."""
        with self._lock:
            return list(self._workflows[workflow_id.lower()].runs)

    def messages(self, workflow_id: str) -> list[dict[str, Any]]:
        """The cards the workflow posted to its channel, in order."""
        return [copy.deepcopy(card) for run in self.runs(workflow_id) for card in run.cards]

    def reset(self) -> None:
        """Forget every workflow (tests create their own)."""
        with self._lock:
            for workflow_id in self._workflows:
                self._faults.forget(workflow_id)
            self._workflows = {}

    # -- the trigger ---------------------------------------------------------------------
    def handle(
        self,
        method: str,
        parts: list[str],
        query: dict[str, str],
        headers: dict[str, str],
        body: bytes,
    ) -> Reply:
        """Answer one request to a trigger URL.

        Order: api-version → workflow → signature → method → faults (slow, 429, 5xx) → body.
        """
        parsed = _parse(parts)
        if parsed is None:
            raise ValueError(f"not a trigger path: /{'/'.join(parts)}")
        form, workflow_id = parsed
        if "api-version" not in query:
            message = (
                "The api-version query parameter (?api-version=) is required for all requests."
            )
            return _error(400, "MissingApiVersionParameter", message)
        with self._lock:
            registered = self._workflows.get(workflow_id.lower())
        if registered is None or registered.workflow.form != form:
            message = f"The workflow '{workflow_id}' could not be found."
            return _error(404, "WorkflowNotFound", message)
        if query["api-version"] != _API_VERSIONS[form]:
            message = (
                f"The api-version '{query['api-version']}' is invalid. The supported versions "
                f"are '{_API_VERSIONS[form]}'."
            )
            return _error(400, "InvalidApiVersionParameter", message)
        refusal = _authenticate(registered.workflow, query, headers)
        if refusal is not None:
            return refusal
        if method != "POST":
            message = (
                "The HTTP method for this request is not valid: expected 'POST' and actual "
                f"'{method}'."
            )
            return _error(400, "TriggerRequestMethodNotValid", message)
        faults = registered.faults
        if faults.slow_seconds:
            time.sleep(faults.slow_seconds)
        injected = self._faults.take(workflow_id, faults, "")
        if injected is not None:
            return _fault_reply(injected)
        return self._trigger(registered, headers, body)

    def _trigger(self, registered: _Registered, headers: dict[str, str], body: bytes) -> Reply:
        content_type = headers.get("content-type", "").split(";")[0].strip().lower()
        payload: Any
        if content_type == "application/json":
            try:
                payload = json.loads(body)
            except ValueError as exc:  # UnicodeDecodeError is a ValueError too
                message = f"The request content was invalid and could not be deserialized: '{exc}'."
                return _error(400, "InvalidRequestContent", message)
        else:
            # Power Automate hands a body that is not declared JSON to the flow as a string.
            payload = body.decode("utf-8", "replace")
        if registered.schema_validation:
            problem = _schema_problem(payload)
            if problem is not None:
                message = (
                    "The input body for trigger 'manual' of type 'Request' did not match its "
                    f"schema definition. Error details: '{problem}'."
                )
                return _error(400, "TriggerInputSchemaMismatch", message)
        error, posted = _run_outcome(payload, registered.card_size_limit)
        run = WorkflowRun(
            run_id=uuid.uuid4().hex,
            at=dt.datetime.now(dt.UTC),
            status="Failed" if error else "Succeeded",
            error=error,
            cards=tuple(posted),
        )
        # Recorded before answering: a client that has its 202 can rely on the run history.
        with self._lock:
            registered.runs.append(run)
        return Reply(202, b"", {}, "text/plain; charset=utf-8")


def _authenticate(
    workflow: Workflow, query: dict[str, str], headers: dict[str, str]
) -> Reply | None:
    """The shared-access signature is the only credential; another scheme beside it is refused."""
    if "sig" not in query:
        message = "The request must be authenticated only by Shared Access scheme."
        return _error(401, "DirectApiAuthorizationRequired", message)
    authorization = headers.get("authorization", "").strip()
    if authorization:
        scheme = authorization.split(" ", 1)[0]
        message = (
            f"The request has both SAS authentication scheme and '{scheme}' authorization "
            "scheme. Only one scheme should be used."
        )
        return _error(400, "DirectApiRequestHasMoreThanOneAuthorization", message)
    # The signature covers the permission and version, so changing either breaks it.
    valid = (
        hmac.compare_digest(query["sig"].encode(), workflow.sig.encode())
        and query.get("sp") == SAS_PERMISSION
        and query.get("sv") == SAS_VERSION
    )
    if not valid:
        message = "The provided authorization signature is not valid."
        return _error(401, "DirectApiInvalidAuthorizationSignature", message)
    return None


__all__ = [
    "ADAPTIVE_CARD",
    "CARD_SIZE_LIMIT",
    "TeamsWorkflows",
    "Workflow",
    "WorkflowRun",
    "is_trigger_path",
    "redacted",
]
