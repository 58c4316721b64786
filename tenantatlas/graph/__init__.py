"""The single path from TenantAtlas to Microsoft (identity platform and Graph).

Only this package imports ``requests`` or ``msal`` (an import contract enforces it), and only
the ProviderGateway builds its objects, inside background jobs:

* :mod:`~tenantatlas.graph.clouds` — endpoint presets (global, US Gov, China) and configured
  endpoint pairs (``custom``, the simulator);
* :mod:`~tenantatlas.graph.contracts` — the registry of permitted GET calls and the application
  permissions they need (the health check's "required" list);
* :mod:`~tenantatlas.graph.auth` — :class:`TokenProvider`: app-only tokens via MSAL, every failure
  a reason code;
* :mod:`~tenantatlas.graph.client` — :class:`GraphClient`: contract-checked requests, retries
  (:mod:`~tenantatlas.graph.retry`), paging, error mapping (:mod:`~tenantatlas.graph.errors`),
  and a :class:`~tenantatlas.graph.recorder.RequestRecorder` for the run context.

Typical use (inside a job, within ``redaction_scope()``)::

    provider = TokenProvider(cloud, tenant_id, ClientCredential(client_id, client_secret=...),
                             redactor=redactor)
    client = GraphClient(cloud, provider, redactor=redactor, recorder=recorder)
    for page in client.iter_pages("devices.list"):
        ...
"""
