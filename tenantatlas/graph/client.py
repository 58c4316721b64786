"""GraphClient: the only code in TenantAtlas that sends requests to Microsoft Graph.

Every call names a registered contract (refused before any I/O otherwise), carries a fresh
``client-request-id``, waits for its turn in the Graph budget all workers share
(:mod:`tenantatlas.graph.budget`), is retried per :mod:`tenantatlas.graph.retry`, and ends
either with parsed JSON or a :class:`~tenantatlas.lib.reasons.ProviderError` holding a reason
code and sanitized, non-secret details. Paging follows ``@odata.nextLink`` page by page, so
memory does not grow with the size of the tenant.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

import requests
from django.conf import settings

from tenantatlas.graph.budget import GraphBudget, Pacer, configured_budget
from tenantatlas.graph.clouds import Cloud
from tenantatlas.graph.contracts import Contract, ContractParameterError, get_contract
from tenantatlas.graph.errors import error_for_response, response_details
from tenantatlas.graph.http import session_for
from tenantatlas.graph.recorder import RequestRecord, RequestRecorder
from tenantatlas.graph.retry import (
    RETRYABLE_STATUSES,
    RetryPolicy,
    announce_retry,
    parse_retry_after,
    retries_active,
)
from tenantatlas.graph.tokens import TokenSource
from tenantatlas.lib import metrics
from tenantatlas.lib.reasons import ProviderError, RetryLater
from tenantatlas.lib.sanitize import Redactor

_EXHAUSTED = {429: "graph.throttled"}
_MALFORMED = "graph.invalid_response"  # a 2xx whose body is not a JSON object


class GraphClient:
    """Authenticated, contract-checked, retrying access to one tenant's Graph."""

    def __init__(
        self,
        cloud: Cloud,
        token_provider: TokenSource,
        *,
        redactor: Redactor,
        recorder: RequestRecorder | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], float] = time.monotonic,
        utcnow: Callable[[], datetime] = lambda: datetime.now(UTC),
        timeout: float | None = None,
        max_attempts: int | None = None,
        max_total_wait: float | None = None,
        max_inline_retry_after: float | None = None,
        policy: RetryPolicy | None = None,
        budget: GraphBudget | None = None,
    ) -> None:
        self.cloud = cloud
        self.token_provider = token_provider
        self.redactor = redactor
        self.recorder = recorder if recorder is not None else RequestRecorder()
        self.session = session if session is not None else session_for(cloud)
        self._sleep = sleep
        self._now = now
        self._utcnow = utcnow
        self.timeout = settings.GRAPH_TIMEOUT if timeout is None else timeout
        base = policy or RetryPolicy()
        self.policy = RetryPolicy(
            max_attempts=max_attempts or settings.GRAPH_MAX_ATTEMPTS,
            max_total_wait=(
                settings.GRAPH_MAX_TOTAL_WAIT if max_total_wait is None else max_total_wait
            ),
            max_inline_retry_after=(
                settings.GRAPH_MAX_INLINE_RETRY_AFTER
                if max_inline_retry_after is None
                else max_inline_retry_after
            ),
            backoff_base=base.backoff_base,
            backoff_cap=base.backoff_cap,
            jitter=base.jitter,
        )
        self._base = urlsplit(cloud.graph_base_url)
        self._base_path = unquote(self._base.path).rstrip("/")
        # /metrics: requests, 429s and retries per cloud (lib/metrics.py).
        self._sent = metrics.GRAPH_REQUESTS.labels(cloud=cloud.name)
        self._throttled = metrics.GRAPH_THROTTLED.labels(cloud=cloud.name)
        self._retried = metrics.GRAPH_RETRIES.labels(cloud=cloud.name)
        # The Graph budget every worker shares (graph/budget): a turn before each request.
        self.pacer = Pacer(
            budget or configured_budget(),
            cloud.name,
            sleep=sleep,
            utcnow=utcnow,
            max_wait=self.policy.max_inline_retry_after,
        )

    # -- public API -------------------------------------------------------------------------

    def get(
        self,
        key: str,
        *,
        params: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """One GET of a registered contract; for paged contracts, the first page only."""
        contract = get_contract(key)
        url = self._url(contract, params)
        return self._request(contract, url, contract.build_query(query))

    def iter_pages(
        self,
        key: str,
        *,
        params: dict[str, Any] | None = None,
        query: dict[str, Any] | None = None,
        page_size: int | None = None,
    ) -> Iterator[list[dict[str, Any]]]:
        """Yield each page's ``value`` list, following ``@odata.nextLink`` to the end."""
        contract = get_contract(key)
        if not contract.paged:
            raise ContractParameterError(f"{key} is not a paged contract; use get()")
        url: str | None = self._url(contract, params)
        options: dict[str, str] | None = contract.build_query(query, page_size)
        while url is not None:
            body = self._request(contract, url, options)
            items = body.get("value")
            if not isinstance(items, list):
                raise ProviderError(
                    "graph.invalid_response",
                    f"{key}: page without a 'value' list",
                    details={"contract": key},
                )
            next_link = body.get("@odata.nextLink")
            del body  # drop the page before the caller works on it
            yield items
            url = self._checked_next_link(contract, next_link) if next_link else None
            options = None  # the nextLink already carries every query option

    # -- internals --------------------------------------------------------------------------

    def _url(self, contract: Contract, params: dict[str, Any] | None) -> str:
        base = self.cloud.graph_base_url.rstrip("/")
        return f"{base}/{contract.version}{contract.render_path(params)}"

    def _checked_next_link(self, contract: Contract, link: object) -> str:
        """The nextLink, if it stays on the Graph base URL under the contract's version.

        The bearer token goes wherever the link points, so a link to another host, scheme or
        port, outside the configured base path, or climbing out of it with ``..`` (raw or
        percent-encoded: transports normalise dot segments) is refused before any request.
        """
        text = str(link)
        parts = urlsplit(text)
        path = unquote(parts.path)
        segments = path.split("/")
        if (parts.scheme.lower(), parts.netloc.lower()) != (
            self._base.scheme.lower(),
            self._base.netloc.lower(),
        ):
            problem = "to another host"
        elif "\\" in path or "." in segments or ".." in segments:
            problem = "with a relative path"
        elif not path.startswith(f"{self._base_path}/{contract.version}/"):
            problem = "outside the Graph base path"
        else:
            return text
        raise ProviderError(
            "graph.invalid_response",
            f"{contract.key}: refused a nextLink {problem}",
            details={
                "contract": contract.key,
                "next_link_host": parts.netloc[:100],
                "next_link_path": parts.path[:200],
            },
        )

    def _request(
        self, contract: Contract, url: str, query: dict[str, str] | None
    ) -> dict[str, Any]:
        record = RequestRecord(contract=contract.key)
        try:
            response, body = self._send_with_retries(contract, url, query, record)
            record.status = response.status_code
            record.request_id = response.headers.get("request-id")
            record.client_request_id = response.headers.get("client-request-id")
            if body is None:
                raise error_for_response(response, contract, self.redactor)
            return body
        except ProviderError as error:
            record.outcome = error.reason_code
            raise
        finally:
            self.recorder.add(record)

    def _send_once(
        self, url: str, query: dict[str, str] | None, force_refresh: bool
    ) -> requests.Response:
        token = self.token_provider.get_token(force_refresh=force_refresh)
        self.redactor.register(token.value)
        headers = {
            "Authorization": f"Bearer {token.value}",
            "Accept": "application/json",
            "client-request-id": str(uuid.uuid4()),
        }
        paced = self.pacer.take_turn(token.value)  # may wait, or raise RetryLater
        self._sent.inc()
        response = self.session.get(url, params=query, headers=headers, timeout=self.timeout)
        if response.status_code == 429:
            self._throttled.inc()
        self.pacer.observe(paced, response)
        return response

    def _exchange(
        self, contract: Contract, url: str, query: dict[str, str] | None, refreshed: bool
    ) -> tuple[requests.Response | None, str, bool]:
        """One attempt: (response or None, the failure it would be, whether the token was renewed)."""
        try:
            response = self._send_once(url, query, force_refresh=False)
            if response.status_code == 401 and not refreshed:
                # An expired or revoked token: renew it once, outside the retry budget.
                refreshed = True
                response = self._send_once(url, query, force_refresh=True)
        except requests.exceptions.SSLError:
            # Not transient: retrying cannot make an untrusted certificate trusted.
            raise ProviderError(
                "graph.network_error",
                "The TLS certificate of Microsoft Graph was not trusted.",
                details={"contract": contract.key, "graph_host": self._base.netloc},
            ) from None
        except requests.Timeout:
            return None, "graph.timeout", refreshed
        except requests.RequestException:
            return None, "graph.network_error", refreshed
        return response, _EXHAUSTED.get(response.status_code, "graph.unavailable"), refreshed

    def _send_with_retries(
        self,
        contract: Contract,
        url: str,
        query: dict[str, str] | None,
        record: RequestRecord,
    ) -> tuple[requests.Response, dict[str, Any] | None]:
        """The final response and, for a success, its JSON object (None for an error status).

        Transient failures are retried within one budget of attempts and waiting: network
        errors, timeouts, 429/502/503/504 and a 2xx whose body is not a JSON object (a page
        cut off in transit); the last failure's reason code ends the call.
        """
        started = self._now()
        refreshed = False
        while True:
            record.attempts += 1
            response, failure, refreshed = self._exchange(contract, url, query, refreshed)
            if response is not None:
                record.status = response.status_code
                if 200 <= response.status_code < 300:
                    body = _json_object(response)
                    if body is not None:
                        return response, body
                    failure = _MALFORMED
                elif response.status_code not in RETRYABLE_STATUSES:
                    return response, None
            if record.attempts >= self.policy.max_attempts or not retries_active():
                raise self._exhausted(contract, failure, response, record)
            wait = self._next_wait(contract, failure, response, record.attempts)
            if self._now() - started + wait > self.policy.max_total_wait:
                raise self._exhausted(contract, failure, response, record)
            cause = ProviderError(failure, details={"contract": contract.key})
            with announce_retry(
                f"tenantatlas.graph.{contract.key}",
                retry_num=record.attempts,
                wait_for=wait,
                waited_so_far=sum(record.waits),
                cause=cause,
            ):
                record.waits.append(wait)
                self._retried.inc()
                self._sleep(wait)

    def _next_wait(
        self,
        contract: Contract,
        failure: str,
        response: requests.Response | None,
        attempt: int,
    ) -> float:
        if response is None or failure == _MALFORMED:
            return self.policy.backoff(attempt)
        header = response.headers.get("Retry-After")
        retry_after = parse_retry_after(header, now=self._utcnow())
        if retry_after is None:
            return self.policy.backoff(attempt)
        if retry_after > self.policy.max_inline_retry_after:
            raise RetryLater(
                failure,
                f"{contract.key}: Microsoft asked to wait {retry_after:.0f}s; rescheduling",
                retry_at=self._utcnow() + timedelta(seconds=retry_after),
                details={**response_details(response, contract), "retry_after": retry_after},
            )
        return retry_after

    def _exhausted(
        self,
        contract: Contract,
        reason_code: str,
        response: requests.Response | None,
        record: RequestRecord,
    ) -> ProviderError:
        details: dict[str, Any] = (
            response_details(response, contract)
            if response is not None
            else {"contract": contract.key}
        )
        details["attempts"] = record.attempts
        details["wait_seconds"] = round(sum(record.waits), 3)
        what = "response is not a JSON object; " if reason_code == _MALFORMED else ""
        return ProviderError(
            reason_code,
            f"{contract.key}: {what}gave up after {record.attempts} attempts",
            details=details,
        )


def _json_object(response: requests.Response) -> dict[str, Any] | None:
    """The body as a JSON object, or None when it is anything else (truncated, a list, …)."""
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    return body if isinstance(body, dict) else None
