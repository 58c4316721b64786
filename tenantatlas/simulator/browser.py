"""The identity platform's browser flows: the admin consent endpoint and the sign-in page.

``GET /{tenant}/v2.0/adminconsent`` and ``GET /{tenant}/oauth2/v2.0/authorize`` show a small
page (``pages.py``) on which a person, or a browser test, picks a simulated user and accepts or
cancels; the page posts back to the same address. As at Microsoft, a request that names no known
app or a reply URL the app did not register gets an error page shown by "Microsoft" (never a
redirect: the address is not trusted); every later failure is sent to the reply URL as
``error`` / ``error_description``.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from tenantatlas.simulator import errors, pages
from tenantatlas.simulator.codes import AuthorizationCode, AuthorizationCodes
from tenantatlas.simulator.directory import Directory, Registration
from tenantatlas.simulator.errors import IdentityError, Reply
from tenantatlas.simulator.scenarios import TenantScenario, UserScenario

MULTI_TENANT_SEGMENTS = ("organizations", "common")
#: Hosts whose port Microsoft ignores when it matches a reply URL (RFC 8252 §7.3, §8.3).
LOOPBACK_HOSTS = ("localhost", "127.0.0.1")
RESPONSE_MODES = ("query", "form_post", "fragment")


class _Shown(Exception):
    """A failure Microsoft shows on its own page instead of redirecting."""

    def __init__(self, error: IdentityError) -> None:
        super().__init__(str(error))
        self.error = error


@dataclass(frozen=True)
class _Request:
    """A browser-flow request whose app and reply URL were checked."""

    segment: str
    tenant: TenantScenario | None  # None: organizations / common
    registration: Registration
    redirect_uri: str
    params: dict[str, str]


def redirect_uri_registered(registered: list[str], redirect_uri: str) -> bool:
    """Exact match, except that a ``localhost`` / ``127.0.0.1`` reply URL matches on any port."""
    if redirect_uri in registered:
        return True
    wanted = urllib.parse.urlsplit(redirect_uri)
    if wanted.hostname not in LOOPBACK_HOSTS:
        return False
    for candidate in registered:
        known = urllib.parse.urlsplit(candidate)
        if (known.scheme, known.hostname, known.path or "/", known.query) == (
            wanted.scheme,
            wanted.hostname,
            wanted.path or "/",
            wanted.query,
        ):
            return True
    return False


def redirect_to(redirect_uri: str, params: dict[str, str], mode: str = "query") -> Reply:
    """A 302 to the reply URL with ``params`` (or, for ``form_post``, the self-posting page)."""
    if mode == "form_post":
        return pages.form_post(redirect_uri, params)
    split = urllib.parse.urlsplit(redirect_uri)
    path = split.path or "/"  # Microsoft answers a path-less reply URL with a trailing slash
    encoded = urllib.parse.urlencode(params)
    if mode == "fragment":
        location = urllib.parse.urlunsplit((split.scheme, split.netloc, path, split.query, encoded))
    else:
        query = f"{split.query}&{encoded}" if split.query else encoded
        location = urllib.parse.urlunsplit((split.scheme, split.netloc, path, query, ""))
    return Reply(
        302, b"", {"Location": location, "Cache-Control": "no-store, no-cache"}, "text/html"
    )


def error_params(error: IdentityError, **extra: str) -> dict[str, str]:
    description = error.describe()[0]
    return {
        "error": error.error,
        "error_description": description,
        "error_uri": error.error_uri,
        **extra,
    }


class BrowserFlows:
    """Serves the admin consent and authorize endpoints for the simulated tenants."""

    def __init__(
        self,
        tenant_for: Callable[[str], TenantScenario],
        tenants: Callable[[], list[TenantScenario]],
        directory: Directory,
        codes: AuthorizationCodes,
    ) -> None:
        self._tenant_for = tenant_for
        self._tenants = tenants
        self._directory = directory
        self._codes = codes

    # -- admin consent -------------------------------------------------------------------
    def admin_consent(
        self, method: str, segment: str, params: dict[str, str]
    ) -> tuple[Reply, str | None, str | None]:
        try:
            request = self._checked(segment, params)
        except _Shown as shown:
            return pages.error_page(shown.error), None, params.get("client_id")
        client_id = request.registration.app.client_id
        tenant_id = request.tenant.tenant_id if request.tenant else None
        state = {"state": params["state"]} if "state" in params else {}
        if not params.get("scope"):
            error = errors.parameter_missing("scope")
            return (
                redirect_to(request.redirect_uri, error_params(error, **state)),
                tenant_id,
                client_id,
            )
        if method != "POST":
            return (
                pages.consent_page(request.registration.app, self._users(None), params),
                tenant_id,
                client_id,
            )
        if params.get("action") == "cancel":
            error = errors.consent_declined()
            answer = error_params(error, admin_consent="True", **state)
            return redirect_to(request.redirect_uri, answer), tenant_id, client_id
        found = self._user(params.get("login_hint", ""))
        if found is None:
            page = pages.consent_page(
                request.registration.app, self._users(None), params, unknown_user=True
            )
            return page, tenant_id, client_id
        home, user = found
        if request.tenant is not None and request.tenant.tenant_id != home.tenant_id:
            error = errors.user_not_in_tenant(
                user.user_principal_name, home.tenant_id, request.tenant.display_name, client_id
            )
            answer = error_params(error, admin_consent="True", **state)
            return redirect_to(request.redirect_uri, answer), tenant_id, client_id
        if not user.is_admin:
            error = errors.admin_approval_required()
            back = redirect_to(
                request.redirect_uri, error_params(error, admin_consent="True", **state)
            ).headers["Location"]
            return (
                pages.admin_approval_page(request.registration.app, user, error, back),
                home.tenant_id,
                client_id,
            )
        scopes = params["scope"].split()
        roles = request.registration.app.required_roles if _asks_default(scopes) else []
        self._directory.grant(home.tenant_id, client_id, list(roles), replace=False)
        answer = {
            "admin_consent": "True",
            "tenant": home.tenant_id,
            "scope": params["scope"],
            **state,
        }
        return redirect_to(request.redirect_uri, answer), home.tenant_id, client_id

    # -- authorize (sign-in) -------------------------------------------------------------
    def authorize(
        self, method: str, segment: str, params: dict[str, str]
    ) -> tuple[Reply, str | None, str | None]:
        try:
            request = self._checked(segment, params)
        except _Shown as shown:
            return pages.error_page(shown.error), None, params.get("client_id")
        client_id = request.registration.app.client_id
        tenant_id = request.tenant.tenant_id if request.tenant else None
        mode = params.get("response_mode") or "query"
        mode = mode if mode in RESPONSE_MODES else "query"
        state = {"state": params["state"]} if "state" in params else {}
        problem = _authorize_problem(params)
        if problem is not None:
            answer = error_params(problem, **state)
            return redirect_to(request.redirect_uri, answer, mode), tenant_id, client_id
        if method != "POST":
            if params.get("prompt") == "none":  # no session at the simulator: never silent
                answer = error_params(errors.login_required(), **state)
                return redirect_to(request.redirect_uri, answer, mode), tenant_id, client_id
            page = pages.signin_page(request.registration.app, self._users(request.tenant), params)
            return page, tenant_id, client_id
        if params.get("action") == "cancel":
            answer = error_params(errors.consent_declined(), error_subcode="cancel", **state)
            return redirect_to(request.redirect_uri, answer, mode), tenant_id, client_id
        found = self._user(params.get("login_hint", ""))
        if found is None:
            page = pages.signin_page(
                request.registration.app, self._users(request.tenant), params, unknown_user=True
            )
            return page, tenant_id, client_id
        home, user = found
        if request.tenant is not None and request.tenant.tenant_id != home.tenant_id:
            error = errors.user_not_in_tenant(
                user.user_principal_name, home.tenant_id, request.tenant.display_name, client_id
            )
            return (
                redirect_to(request.redirect_uri, error_params(error, **state), mode),
                tenant_id,
                client_id,
            )
        challenge = params.get("code_challenge") or None
        code = self._codes.issue(
            AuthorizationCode(
                client_id=client_id,
                redirect_uri=params["redirect_uri"],
                tenant_id=home.tenant_id,
                user=user,
                scopes=tuple(dict.fromkeys(params["scope"].split())),
                nonce=params.get("nonce"),
                code_challenge=challenge,
                code_challenge_method=params.get("code_challenge_method") or "plain",
                issued_at=0.0,
            )
        )
        answer = {"code": code, **state, "session_state": str(uuid.uuid4())}
        return redirect_to(request.redirect_uri, answer, mode), home.tenant_id, client_id

    # -- shared checks -------------------------------------------------------------------
    def _checked(self, segment: str, params: dict[str, str]) -> _Request:
        """The tenant, app and reply URL of the request, or the error page Microsoft shows."""
        tenant: TenantScenario | None = None
        try:
            if segment.lower() not in MULTI_TENANT_SEGMENTS:
                tenant = self._tenant_for(segment)
        except IdentityError as exc:
            raise _Shown(exc) from exc
        client_id = params.get("client_id", "")
        if not client_id:
            raise _Shown(errors.parameter_missing("client_id"))
        registration = self._directory.registration(client_id, tenant)
        where = tenant.display_name if tenant is not None else segment
        if registration is None:
            raise _Shown(errors.app_not_found(client_id, where))
        app = registration.app
        if not app.multi_tenant:
            if tenant is None:
                raise _Shown(errors.not_multi_tenant(app.client_id, app.display_name))
            if tenant.tenant_id != registration.home.tenant_id:
                raise _Shown(errors.app_not_found(client_id, where))
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri:
            raise _Shown(errors.parameter_missing("redirect_uri"))
        if not redirect_uri_registered(app.redirect_uris, redirect_uri):
            raise _Shown(errors.redirect_uri_mismatch(redirect_uri, app.client_id))
        return _Request(segment, tenant, registration, redirect_uri, params)

    def _users(self, tenant: TenantScenario | None) -> list[tuple[TenantScenario, UserScenario]]:
        """The accounts to offer: the tenant's, or every tenant's, declared users' tenants first."""
        chosen = (
            [tenant] if tenant is not None else sorted(self._tenants(), key=lambda t: not t.users)
        )
        return [(t, user) for t in chosen for user in t.directory_users()]

    def _user(self, login: str) -> tuple[TenantScenario, UserScenario] | None:
        wanted = login.strip().lower()
        for tenant, user in self._users(None):
            if wanted in (user.user_principal_name.lower(), user.object_id.lower()):
                return tenant, dataclasses.replace(user)
        return None


def _asks_default(scopes: list[str]) -> bool:
    """Whether the scopes ask for the app's configured application permissions (``/.default``)."""
    return any(scope.endswith("/.default") for scope in scopes)


def _authorize_problem(params: dict[str, str]) -> IdentityError | None:
    """What is wrong with an authorize request whose app and reply URL are fine (redirected)."""
    response_type = params.get("response_type", "")
    if not response_type:
        return errors.parameter_missing("response_type")
    if response_type != "code":
        return errors.unsupported_response_type(response_type)
    if not params.get("scope"):
        return errors.parameter_missing("scope")
    method = params.get("code_challenge_method")
    if method and method not in ("S256", "plain"):
        return errors.invalid_request(
            501491, f"Invalid value for code_challenge_method: '{method}'."
        )
    return None
