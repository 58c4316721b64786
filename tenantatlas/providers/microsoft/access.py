"""Graph access for the sync modules: the right tenant, with consent, before anything is stored."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantatlas.lib.reasons import ProviderError, get_reason
from tenantatlas.providers.gateway import ProviderGateway

if TYPE_CHECKING:
    from tenantatlas.graph.client import GraphClient


def consented_graph_client(gateway: ProviderGateway) -> GraphClient:
    """A Graph client for the connection's own tenant whose token carries a ``roles`` claim.

    The token's ``tid`` and ``/organization`` must name the connection's tenant
    (``provider.tenant_mismatch`` otherwise): every operation calls this first, so a run never
    writes another tenant's data under the connection.

    Without admin consent the identity platform still issues a token, just without roles;
    every Graph call would then answer 403. Saying ``auth.consent_missing`` up front names the
    real cause (and marks the connection unhealthy) instead of five ``graph.permission_denied``.
    """
    tokens = gateway.token_provider()
    if tokens.get_token().roles is None:
        raise ProviderError("auth.consent_missing", get_reason("auth.consent_missing").message)
    client = gateway.graph_client(tokens)
    gateway.verify_tenant(client)
    return client
