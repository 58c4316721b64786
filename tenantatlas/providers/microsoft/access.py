"""Graph access for the sync modules: a token without application permissions stops the run early."""

from __future__ import annotations

from typing import TYPE_CHECKING

from tenantatlas.lib.reasons import ProviderError, get_reason
from tenantatlas.providers.gateway import ProviderGateway

if TYPE_CHECKING:
    from tenantatlas.graph.client import GraphClient


def consented_graph_client(gateway: ProviderGateway) -> GraphClient:
    """A Graph client whose token carries a ``roles`` claim.

    Without admin consent the identity platform still issues a token, just without roles;
    every Graph call would then answer 403. Saying ``auth.consent_missing`` up front names the
    real cause (and marks the connection unhealthy) instead of five ``graph.permission_denied``.
    """
    tokens = gateway.token_provider()
    if tokens.get_token().roles is None:
        raise ProviderError("auth.consent_missing", get_reason("auth.consent_missing").message)
    return gateway.graph_client(tokens)
