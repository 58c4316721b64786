"""Probe a running TenantAtlas for the hardening rules: crafted cursors, oversized bodies, wrong
methods, the Content-Security-Policy header and sign-in lockout. Prints what it saw.

Start the product with a known demo password, make an API token for ``admin`` (Tokens page), then:

    TENANTATLAS_DEMO_PASSWORD=probe-pass ./run start --port 8100 &
    .venv/bin/python bench/probe_hardening.py http://127.0.0.1:8100 probe-pass ta_...

It locks the demo user ``viewer`` out (unlock with ``./run axes_reset_username viewer``).
"""

import base64
import json
import random
import re
import sys

import requests

BASE = sys.argv[1]
PASSWORD = sys.argv[2]
TOKEN = sys.argv[3]
random.seed(7)


def b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


crafted = [
    "Infinity",
    "NaN",
    "-1",
    "%%%",
    "\x00",
    "A" * 5000,
    b64(b"[Infinity, 1]"),
    b64(b"[NaN, 1]"),
    b64(b"[1e309, 1]"),
    b64(b'["0000-01-01T00:00:00+00:00", 1]'),
    b64(b'["9999-12-31T23:59:59+14:00", 1]'),
    b64(b'["2026-01-01T00:00:00", 1]'),
    b64(b"[1, 99999999999999999999999]"),
    b64(b"[1]"),
    b64(b"[1, 2, 3]"),
    b64(b"{}"),
    b64(b"null"),
    b64(b'"x"'),
    b64(json.dumps(["\ud800", 1]).encode()),
]
crafted += [
    b64(bytes(random.getrandbits(8) for _ in range(random.randint(1, 60)))) for _ in range(40)
]
crafted += [
    "".join(random.choice("AZaz09-_=+/%.") for _ in range(random.randint(1, 80))) for _ in range(40)
]

s = requests.Session()
login = s.get(f"{BASE}/accounts/login/")
csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text).group(1)
r = s.post(
    f"{BASE}/accounts/login/",
    data={"csrfmiddlewaretoken": csrf, "username": "admin", "password": PASSWORD},
    headers={"Referer": f"{BASE}/accounts/login/"},
)
if not r.ok or "/accounts/login" in r.url:
    sys.exit(f"sign-in failed: {r.status_code} {r.url}")

pages = [
    "/w/demo/runs/",
    "/w/demo/notifications/",
    "/w/demo/inventory/",
    "/w/demo/inventory/?kind=mobile_app",
]
api = [
    "/api/v1/runs",
    "/api/v1/notifications",
    "/api/v1/inventory/managed_device",
    "/api/v1/compliance-snapshots",
    "/api/v1/audit-events",
    "/api/v1/connections",
]
statuses: dict[int, int] = {}
fivexx = []
for cursor in crafted:
    for page in pages:
        for name in ("after", "before"):
            code = s.get(f"{BASE}{page}", params={name: cursor}).status_code
            statuses[code] = statuses.get(code, 0) + 1
            if code >= 500:
                fivexx.append((page, name, cursor[:40]))
    for path in api:
        resp = requests.get(
            f"{BASE}{path}", params={"cursor": cursor}, headers={"Authorization": f"Bearer {TOKEN}"}
        )
        statuses[resp.status_code] = statuses.get(resp.status_code, 0) + 1
        if resp.status_code >= 500:
            fivexx.append((path, "cursor", cursor[:40]))
        if resp.status_code == 400:
            assert "error" in resp.json(), resp.text
print(
    f"crafted cursors: {len(crafted)} cursors x {len(pages) * 2 + len(api)} targets -> statuses {statuses}; 5xx: {len(fivexx)}"
)

big = b"x" * (3 * 1024 * 1024)
r1 = requests.post(
    f"{BASE}/api/v1/runs",
    data=big,
    headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
)
r2 = s.post(
    f"{BASE}/w/demo/connections/new/",
    data=big,
    headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "X-CSRFToken": s.cookies.get("csrftoken", ""),
    },
)
r3 = requests.delete(f"{BASE}/api/v1/me", headers={"Authorization": f"Bearer {TOKEN}"})
print(f"oversized API body -> {r1.status_code} {r1.text[:80]!r}")
print(f"oversized page body -> {r2.status_code}")
print(f"wrong method on API -> {r3.status_code} {r3.text[:80]!r}")

cookies = s.cookies
s = requests.Session()
s.cookies = cookies
csp_missing = []
for path in [
    "/",
    "/w/demo/",
    "/w/demo/connections/",
    "/w/demo/runs/",
    "/w/demo/inventory/",
    "/w/demo/compliance/",
    "/w/demo/audit/",
    "/w/demo/members/",
    "/w/demo/tokens/",
    "/w/demo/notifications/",
    "/invitations/",
    "/api/v1/docs",
    "/accounts/login/",
    "/nope",
]:
    resp = s.get(f"{BASE}{path}")
    if "script-src 'self'" not in resp.headers.get("Content-Security-Policy", ""):
        csp_missing.append((path, resp.status_code))
print(f"CSP header missing on: {csp_missing}")

t = requests.Session()
codes = []
for _attempt in range(7):
    page = t.get(f"{BASE}/accounts/login/")
    csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    resp = t.post(
        f"{BASE}/accounts/login/",
        data={"csrfmiddlewaretoken": csrf, "username": "viewer", "password": "wrong-password"},
        headers={"Referer": f"{BASE}/accounts/login/"},
    )
    codes.append(resp.status_code)
page = t.get(f"{BASE}/accounts/login/")
csrf = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
right = t.post(
    f"{BASE}/accounts/login/",
    data={"csrfmiddlewaretoken": csrf, "username": "viewer", "password": PASSWORD},
    headers={"Referer": f"{BASE}/accounts/login/"},
    allow_redirects=False,
)
print(
    f"wrong passwords -> {codes}; right password while locked -> {right.status_code} ({'Too many failed sign-ins' in right.text})"
)
