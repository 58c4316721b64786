"""Which Entra tenant a verified domain names: the issuer of the domain's OpenID discovery.

``GET {authority}/{domain}/v2.0/.well-known/openid-configuration`` answers for any tenant by id
or by one of its verified domains; its ``issuer`` is ``{authority}/{tenant id}/v2.0``
(docs/microsoft-facts.md, the OpenID discovery rows). An unknown domain is answered 400
``invalid_tenant`` (AADSTS90002). Used where a person names tenants by domain: sign-in's allowed
tenants and bulk add. Nothing is cached here; callers keep what they need.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import requests

from tenantatlas.graph.clouds import Cloud, tls_verify
from tenantatlas.graph.http import GraphSession

_ISSUER_TENANT = re.compile(
    r"/([0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})/"
)


class DomainLookupFailed(Exception):
    """``code``: ``unknown`` (Microsoft knows no such tenant) or ``unreachable`` (no answer, an
    error status, not a JSON object)."""

    def __init__(self, code: str, message: str, http_status: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.http_status = http_status


def fetch_identity_json(cloud: Cloud, url: str, *, timeout: float = 10.0) -> dict[str, object]:
    """GET a JSON document of the identity platform (a discovery document, a key set)."""
    session = GraphSession(verify=tls_verify(cloud))
    try:
        response = session.get(url, timeout=timeout)
    except requests.Timeout:
        raise DomainLookupFailed("unreachable", "Microsoft did not answer in time.") from None
    except requests.RequestException as exc:
        raise DomainLookupFailed(
            "unreachable", f"Microsoft could not be reached ({type(exc).__name__})."
        ) from None
    finally:
        session.close()
    if response.status_code == 400 and "invalid_tenant" in response.text:
        raise DomainLookupFailed("unknown", "Microsoft does not know this tenant.", 400)
    if response.status_code != 200:
        raise DomainLookupFailed(
            "unreachable", f"Microsoft answered {response.status_code}.", response.status_code
        )
    try:
        document = response.json()
    except ValueError:
        raise DomainLookupFailed("unreachable", "Microsoft's answer was not JSON.") from None
    if not isinstance(document, dict):
        raise DomainLookupFailed("unreachable", "Microsoft's answer was not a JSON object.")
    return document


def discovery_document(cloud: Cloud, tenant: str, *, timeout: float = 10.0) -> dict[str, object]:
    """The OpenID discovery document of a tenant (by id or verified domain)."""
    url = f"{cloud.authority(tenant)}/v2.0/.well-known/openid-configuration"
    return fetch_identity_json(cloud, url, timeout=timeout)


def tenant_for_domain(cloud: Cloud, domain: str, *, timeout: float = 10.0) -> str:
    """The tenant id a verified domain names (lower case)."""
    document = discovery_document(cloud, domain, timeout=timeout)
    match = _ISSUER_TENANT.search(str(document.get("issuer") or "") + "/")
    if not match:
        raise DomainLookupFailed("unknown", f"The domain {domain} names no Microsoft Entra tenant.")
    return match.group(1).lower()


def tenants_for_domains(
    cloud: Cloud, domains: Iterable[str], *, workers: int = 8, timeout: float = 10.0
) -> dict[str, str | DomainLookupFailed]:
    """Each domain's tenant id, or why it has none; at most ``workers`` lookups at once."""
    wanted = sorted(set(domains))
    if not wanted:
        return {}

    def lookup(domain: str) -> str | DomainLookupFailed:
        try:
            return tenant_for_domain(cloud, domain, timeout=timeout)
        except DomainLookupFailed as exc:
            return exc

    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(wanted)))) as pool:
        return dict(zip(wanted, pool.map(lookup, wanted), strict=True))
