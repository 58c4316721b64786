"""Who is acting and from where, for the audit trail of the current request or job."""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class RequestContext:
    request_id: str | None = None
    ip: str | None = None
    via: str = "web"  # web, api, worker, cli
    api_token_id: int | None = None


SYSTEM = RequestContext(via="system")
_current: contextvars.ContextVar[RequestContext | None] = contextvars.ContextVar(
    "request_context", default=None
)


def current() -> RequestContext:
    return _current.get() or SYSTEM


@contextmanager
def bind(context: RequestContext) -> Iterator[RequestContext]:
    token = _current.set(context)
    try:
        yield context
    finally:
        _current.reset(token)


def amend(**changes: object) -> RequestContext:
    """Refine the current context once more is known (e.g. bearer auth found the API token).

    The enclosing ``bind`` (the request middleware) restores the previous context on exit.
    """
    context = replace(current(), **changes)  # type: ignore[arg-type]
    _current.set(context)
    return context
