"""The HTTP session every request to Microsoft (tokens and Graph) goes through.

``requests`` lets the environment override TLS trust: with ``trust_env`` on, a process-wide
``REQUESTS_CA_BUNDLE``/``CURL_CA_BUNDLE`` replaces ``Session.verify`` for every request that does
not pass ``verify`` itself, and ``~/.netrc`` can inject an ``Authorization`` header. Neither may
decide whom TenantAtlas trusts with a client secret, so the session ignores the environment for
both, while still honouring the standard proxy variables (``HTTPS_PROXY``/``NO_PROXY``).
"""

from __future__ import annotations

from typing import Any

import requests
from requests.utils import get_environ_proxies

from tenantatlas.graph.clouds import Cloud, tls_verify


class GraphSession(requests.Session):
    """A requests session whose TLS trust comes only from the cloud configuration."""

    def __init__(self, verify: str | bool = True) -> None:
        super().__init__()
        self.trust_env = False
        self.verify = verify

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("proxies") is None:
            kwargs["proxies"] = get_environ_proxies(str(url))
        kwargs["verify"] = self.verify
        return super().request(method, url, *args, **kwargs)


def session_for(cloud: Cloud) -> GraphSession:
    """A fresh session trusting exactly what the cloud (plus EXTRA_CA_BUNDLE) says."""
    return GraphSession(verify=tls_verify(cloud))
