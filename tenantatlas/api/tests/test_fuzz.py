"""Schemathesis against the live OpenAPI document: every operation, no 5xx, no schema violation.

In-process through the WSGI app, so the requests share the test's database transaction. Half of
the generated cases address real objects of the token's workspace (ids swapped in), so the fuzzed
bodies reach the services, not just the 404 path. Negative cases (data the schema forbids) must
be refused without a 5xx and in the documented error shape.
"""

from __future__ import annotations

import collections
import itertools
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tenantatlas.api.api import api
from tenantatlas.api.tests.conftest import token_for
from tenantatlas.api.tests.factories import seed_workspace

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]
# Not negative_data_rejection: like Django forms, the API ignores query parameters it does not
# know, and schemathesis counts unknown parameters as invalid data that must be refused.
# Per operation: (method path) -> Counter of status codes, printed at the end of the session.
FIGURES: dict[str, collections.Counter[int]] = collections.defaultdict(collections.Counter)
_swap = itertools.count()
EXAMPLES = {GenerationMode.POSITIVE: 25, GenerationMode.NEGATIVE: 10}


@pytest.fixture
def api_schema(db: Any) -> Iterator[Any]:
    # The WSGI handler closes "old" connections after each request, which would close the test's
    # transaction; Django's test client switches this off the same way.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.fixture
def seeded(alice: Any, bob: Any, acme: Any, mallory: Any) -> dict[str, Any]:
    return {**seed_workspace(acme, alice), "token": token_for(alice)}


@pytest.fixture(scope="module", autouse=True)
def _report() -> Iterator[None]:
    yield
    total = sum(sum(c.values()) for c in FIGURES.values())
    operations = {key.rsplit(" ", 1)[0] for key in FIGURES}
    lines = [f"schemathesis: {len(operations)} operations, {total} requests (positive + negative)"]
    lines += [f"  {op}: {dict(sorted(c.items()))}" for op, c in sorted(FIGURES.items())]
    print("\n" + "\n".join(lines))


def _address_real_objects(case: Any, seeded: dict[str, Any]) -> None:
    if next(_swap) % 2:
        return
    for name, ids in (
        ("connection_id", seeded["connection_ids"]),
        ("run_id", seeded["run_ids"]),
        ("notification_id", seeded["notification_ids"]),
    ):
        if case.path_parameters and name in case.path_parameters:
            case.path_parameters[name] = ids[next(_swap) % len(ids)]
        if isinstance(case.body, dict) and name in case.body:
            case.body[name] = ids[next(_swap) % len(ids)]


def _operations() -> list[tuple[str, str]]:
    """(METHOD, path) of every operation in the OpenAPI document."""
    document = api.get_openapi_schema(path_prefix="/api/v1/")
    return [(m.upper(), p) for p, methods in document["paths"].items() for m in methods]


@pytest.mark.slow
@pytest.mark.parametrize("mode", list(EXAMPLES))
@pytest.mark.parametrize(("method", "path"), _operations())
def test_it_survives_fuzzing_of_every_operation(
    method: str, path: str, mode: GenerationMode, api_schema: Any, seeded: dict[str, Any]
) -> None:
    """Positive cases (valid by the schema) and negative ones (invalid: must be refused with 4xx)."""
    operation = api_schema[path][method]
    headers = {"Authorization": f"Bearer {seeded['token']}"}

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES[mode],
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        if mode == GenerationMode.POSITIVE:  # swapping ids could make a negative case valid
            _address_real_objects(case, seeded)
        response = case.call_and_validate(headers=headers, checks=CHECKS)
        FIGURES[f"{method} {path} {mode}"][response.status_code] += 1

    fuzz()
