"""``GET /metrics`` for Prometheus: a bearer token, or direct requests from allowed networks.

With ``TENANTATLAS_METRICS_TOKEN`` set, a scrape must send ``Authorization: Bearer <token>``
(compared in constant time) and anything else gets 401. Without a token, only requests that
reach this process directly (no proxy headers: through a proxy every client would look like the
proxy's address) from loopback or ``TENANTATLAS_METRICS_ALLOWED_NETWORKS`` are answered, and
everyone else gets the same 404 as any unknown page. Never a session: a scraper has none.
"""

from __future__ import annotations

import hmac
import ipaddress
from functools import cache

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST

from tenantatlas.observability.collector import render_metrics

PROXY_HEADERS = ("Forwarded", "X-Forwarded-For", "X-Forwarded-Host", "X-Real-Ip")
LOOPBACK = ("127.0.0.0/8", "::1/128")

type Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _networks(allowed: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(net, strict=False) for net in (*LOOPBACK, *allowed))


def bearer_matches(request: HttpRequest, token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


def direct_from_allowed_network(request: HttpRequest) -> bool:
    if any(header in request.headers for header in PROXY_HEADERS):
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR") or "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    networks = _networks(tuple(settings.METRICS_ALLOWED_NETWORKS))
    return any(address in network for network in networks)


def unauthorized() -> HttpResponse:
    response = HttpResponse("Unauthorized\n", status=401, content_type="text/plain")
    response["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return response


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    if settings.METRICS_TOKEN:
        if not bearer_matches(request, settings.METRICS_TOKEN):
            return unauthorized()
    elif not direct_from_allowed_network(request):
        raise Http404
    return HttpResponse(render_metrics(), content_type=CONTENT_TYPE_LATEST)
