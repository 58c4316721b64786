"""A scripted transport for GraphClient unit tests: no sockets, every request recorded."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import requests
from requests.adapters import BaseAdapter
from requests.structures import CaseInsensitiveDict

from tenantatlas.graph.clouds import Cloud
from tenantatlas.graph.tokens import AccessToken

CLOUD = Cloud("test", "Test", "https://login.test", "https://graph.test", "https://graph.test")


def response(
    status: int = 200,
    body: Any = None,
    *,
    headers: dict[str, str] | None = None,
    raw: bytes | None = None,
) -> requests.Response:
    resp = requests.Response()
    resp.status_code = status
    resp._content = (
        raw if raw is not None else json.dumps(body if body is not None else {}).encode()
    )
    resp.headers = CaseInsensitiveDict({"Content-Type": "application/json", **(headers or {})})
    return resp


def graph_error(status: int, code: str, message: str = "", **headers: str) -> requests.Response:
    body = {"error": {"code": code, "message": message, "innerError": {"request-id": "rid-1"}}}
    return response(status, body, headers={"request-id": "rid-1", **headers})


Step = requests.Response | Exception | Callable[[requests.PreparedRequest], requests.Response]


class ScriptedAdapter(BaseAdapter):
    """Answers requests from a script (a list consumed in order) and records them."""

    def __init__(self, script: list[Step]) -> None:
        super().__init__()
        self.script = list(script)
        self.requests: list[requests.PreparedRequest] = []
        self.send_kwargs: list[dict[str, Any]] = []

    def send(self, request: requests.PreparedRequest, **kwargs: Any) -> requests.Response:
        self.requests.append(request)
        self.send_kwargs.append(kwargs)
        if not self.script:
            raise AssertionError(f"unexpected request {request.url}")
        step = self.script.pop(0)
        if isinstance(step, Exception):
            raise step
        resp = step(request) if callable(step) else step
        resp.request = request
        resp.url = request.url or ""
        return resp

    def close(self) -> None:
        pass


@dataclass
class FakeTokens:
    """Hands out numbered tokens; counts forced refreshes."""

    issued: int = 0
    forced: int = 0
    roles: list[str] | None = field(
        default_factory=lambda: ["DeviceManagementManagedDevices.Read.All"]
    )

    def get_token(self, force_refresh: bool = False) -> AccessToken:
        if force_refresh or not self.issued:
            self.issued += 1
            self.forced += force_refresh
        return AccessToken(
            f"fake-access-token-{self.issued:04d}",
            datetime.now(UTC) + timedelta(hours=1),
            self.roles,
        )


@dataclass
class FakeClock:
    """Monotonic clock + sleep that only advances when slept."""

    t: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def now(self) -> float:
        return self.t

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.t += seconds
