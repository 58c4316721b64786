"""The HTML of the browser flows: account picker, consent, "need admin approval", errors.

Plain, self-contained pages (no script except form_post's self-submit) with stable ids for
browser tests: pick an account with ``get_by_label(<UPN>)``, then ``#consent-accept`` /
``#consent-decline`` or ``#signin-submit`` / ``#signin-cancel``; an error page has
``#error-code`` (``AADSTS50011``) and ``#error-message``. docs/simulator.md lists them.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

from tenantatlas.simulator.errors import IdentityError, Reply
from tenantatlas.simulator.scenarios import AppScenario, TenantScenario, UserScenario

_STYLE = """
body{font-family:"Segoe UI",system-ui,sans-serif;background:#f2f2f2;margin:0;color:#1b1b1b}
main{background:#fff;max-width:440px;margin:48px auto;padding:44px;box-shadow:0 2px 6px #0003}
h1{font-size:24px;font-weight:600;margin:0 0 16px}
.brand{font-weight:600;color:#737373;margin-bottom:16px}
fieldset{border:0;padding:0;margin:0 0 16px}legend{font-weight:600;margin-bottom:8px}
label{display:block;padding:6px 0}.tenant{color:#605e5c;font-size:13px}
.actions{display:flex;gap:8px;justify-content:flex-end;margin-top:24px}
button{min-width:108px;padding:6px 12px;font-size:15px;border:1px solid #8a8886;background:#fff}
button.primary{background:#0067b8;border-color:#0067b8;color:#fff}
.error{color:#a4262c}code{font-size:12px;word-break:break-all}
"""


def _page(title: str, body: str, status: int = 200) -> Reply:
    document = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head>"
        f'<body><main><div class="brand">Microsoft</div>{body}</main></body></html>'
    )
    headers = {"Cache-Control": "no-store, no-cache", "X-Frame-Options": "DENY"}
    return Reply(status, document.encode(), headers, "text/html; charset=utf-8")


def _hidden(params: dict[str, str], skip: Iterable[str] = ("action", "login_hint")) -> str:
    return "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
        for k, v in params.items()
        if k not in skip
    )


def _accounts(users: list[tuple[TenantScenario, UserScenario]], chosen: str) -> str:
    rows = []
    for tenant, user in users:
        checked = " checked" if chosen.lower() == user.user_principal_name.lower() else ""
        role = ", administrator" if user.is_admin else ""
        rows.append(
            f'<label for="user-{user.object_id}"><input type="radio" name="login_hint" '
            f'id="user-{user.object_id}" value="{html.escape(user.user_principal_name)}" '
            f'data-tenant-id="{tenant.tenant_id}" required{checked}> '
            f"{html.escape(user.display_name)} ({html.escape(user.user_principal_name)})"
            f'<span class="tenant"> — {html.escape(tenant.display_name)}{role}</span></label>'
        )
    return "".join(rows)


def _unknown(flag: bool) -> str:
    if not flag:
        return ""
    return (
        '<p class="error" id="user-error">This username may be incorrect. Make sure you typed it '
        "correctly. Otherwise, contact your admin.</p>"
    )


def consent_page(
    app: AppScenario,
    users: list[tuple[TenantScenario, UserScenario]],
    params: dict[str, str],
    *,
    unknown_user: bool = False,
) -> Reply:
    """Sign in as an admin and grant the app its permissions for the whole organization."""
    permissions = "".join(f"<li>{html.escape(role)}</li>" for role in app.required_roles)
    body = (
        '<h1 id="title">Permissions requested</h1>'
        f'<p><strong id="app-name">{html.escape(app.display_name)}</strong> '
        f'(<code id="client-id">{app.client_id}</code>) needs permission to:</p>'
        f'<ul id="permissions">{permissions}</ul>'
        "<p>Accepting grants these permissions for all users in your organization.</p>"
        f'<form method="post" id="consent-form">{_hidden(params)}{_unknown(unknown_user)}'
        f"<fieldset><legend>Sign in as</legend>"
        f"{_accounts(users, params.get('login_hint', ''))}</fieldset>"
        '<div class="actions">'
        '<button type="submit" name="action" value="cancel" id="consent-decline" '
        "formnovalidate>Cancel</button>"
        '<button type="submit" name="action" value="accept" id="consent-accept" '
        'class="primary">Accept</button></div></form>'
    )
    return _page("Permissions requested", body)


def admin_approval_page(
    app: AppScenario, user: UserScenario, error: IdentityError, back: str
) -> Reply:
    """What a non-admin sees: only an admin can grant this; go back without consent."""
    body = (
        '<h1 id="title">Need admin approval</h1>'
        f'<p id="signed-in-as">{html.escape(user.user_principal_name)}</p>'
        f"<p><strong>{html.escape(app.display_name)}</strong> needs permission to access "
        "resources in your organization that only an admin can grant. Please ask an admin to "
        "grant permission to this app before you can use it.</p>"
        f'<p class="error" id="error-message">AADSTS{error.code}: {html.escape(error.message)}</p>'
        f'<p><a id="consent-return" href="{html.escape(back)}">Return to the application '
        "without granting consent</a></p>"
    )
    return _page("Need admin approval", body)


def signin_page(
    app: AppScenario,
    users: list[tuple[TenantScenario, UserScenario]],
    params: dict[str, str],
    *,
    unknown_user: bool = False,
) -> Reply:
    """Pick an account to sign in to the app with."""
    body = (
        '<h1 id="title">Pick an account</h1>'
        f'<p>to continue to <strong id="app-name">{html.escape(app.display_name)}</strong></p>'
        f'<form method="post" id="signin-form">{_hidden(params)}{_unknown(unknown_user)}'
        f"<fieldset><legend>Accounts</legend>"
        f"{_accounts(users, params.get('login_hint', ''))}</fieldset>"
        '<div class="actions">'
        '<button type="submit" name="action" value="cancel" id="signin-cancel" '
        "formnovalidate>Cancel</button>"
        '<button type="submit" name="action" value="signin" id="signin-submit" '
        'class="primary">Sign in</button></div></form>'
    )
    return _page("Sign in to your account", body)


def error_page(error: IdentityError) -> Reply:
    """Microsoft's own error page: the request is not sent back to an untrusted reply URL."""
    _, stamp, trace_id, correlation_id = error.describe()
    body = (
        '<h1 id="title">Sorry, but we\u2019re having trouble signing you in.</h1>'
        f'<p id="error-code" data-error="{html.escape(error.error)}">AADSTS{error.code}</p>'
        f'<p class="error" id="error-message">AADSTS{error.code}: {html.escape(error.message)}</p>'
        f"<dl><dt>Request Id</dt><dd>{trace_id}</dd><dt>Correlation Id</dt>"
        f"<dd>{correlation_id}</dd><dt>Timestamp</dt><dd>{stamp}</dd></dl>"
    )
    return _page("Sign in to your account", body, status=error.status)


def form_post(redirect_uri: str, params: dict[str, str]) -> Reply:
    """``response_mode=form_post``: a page that posts the answer to the reply URL at once."""
    fields = "".join(
        f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}" />'
        for k, v in params.items()
    )
    document = (
        "<html><head><title>Working...</title></head>"
        '<body onload="document.forms[0].submit()">'
        f'<form method="POST" name="hiddenform" action="{html.escape(redirect_uri)}">{fields}'
        "<noscript><p>Script is disabled. Click Submit to continue.</p>"
        '<input type="submit" value="Submit" /></noscript></form></body></html>'
    )
    headers = {"Cache-Control": "no-store, no-cache"}
    return Reply(200, document.encode(), headers, "text/html; charset=utf-8")
