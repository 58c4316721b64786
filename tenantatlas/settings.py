"""TenantAtlas settings: one module, driven by the environment.

Embedded default (no environment at all): SQLite file, database task backend, secrets
generated once into the data directory with 0600 permissions. Production
(``TENANTATLAS_ENV=production``) refuses to start without explicit secrets and keys.

Every variable is read and every setting named here; ``tenantatlas/config/`` holds the checks
that stop a start on an unusable value and builds the structured values (the task backends,
mailers, ``LOGGING``) from the values read here.
"""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

from tenantatlas.config import graph_budget, observability, signin
from tenantatlas.config.mail import mailers
from tenantatlas.config.secrets import encryption_keys, local_secret_file
from tenantatlas.config.tasks import bounded_redis_url, operation_timeout, rq_queues, task_backends
from tenantatlas.graph.clouds import GLOBAL_GRAPH_RESOURCE, custom_cloud, simulator_cloud
from tenantatlas.lib.env import EnvError, envbool, envfloat, envint, envlist, envraw, envstr
from tenantatlas.lib.private_files import make_private_dir, restrict_umask, tighten
from tenantatlas.observability.multiprocess import prepare as prepare_metrics_dir

# Whatever imported these settings (the tenantatlas command, manage.py, gunicorn, a test
# runner), the files it creates are private, and a data directory an older release left
# readable is tightened: the embedded database holds session keys and sealed credentials.
restrict_umask()
BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(envstr("TENANTATLAS_DATA_DIR", str(BASE_DIR / "var"))).resolve()
tighten(DATA_DIR)
ENVIRONMENT = envstr("TENANTATLAS_ENV", "embedded")
if ENVIRONMENT not in {"embedded", "production", "test"}:
    raise ImproperlyConfigured(f"TENANTATLAS_ENV={ENVIRONMENT!r}: use embedded, production or test")
PRODUCTION = ENVIRONMENT == "production"

DEBUG = envbool("DEBUG", False)

# Embedded mode generates missing secrets into the data directory (0600); production never does.
SECRET_KEY = envraw("SECRET_KEY") or local_secret_file(
    DATA_DIR, PRODUCTION, "SECRET_KEY", lambda: secrets.token_urlsafe(50)
)

# Credential encryption: Fernet keys, the first one encrypts, all of them decrypt.
# From TENANTATLAS_ENCRYPTION_KEYS (comma-separated, or _FILE); embedded mode keeps them in
# DATA_DIR/encryption_keys (one per line, 0600), created on first start.
# A malformed key stops every process here, naming where it came from and its position.
ENCRYPTION_KEYS, ENCRYPTION_KEYS_FILE = encryption_keys(
    envlist("TENANTATLAS_ENCRYPTION_KEYS"),
    os.environ.get("TENANTATLAS_ENCRYPTION_KEYS_FILE"),
    DATA_DIR,
    PRODUCTION,
)

ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS")
SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "ninja",  # serves the API docs page from its bundled static files, not a CDN
    "django_tasks_db",
    "axes",  # sign-in lockout: failed attempts per account and per client address
    "tenantatlas.lib",
    "tenantatlas.workspaces",
    "tenantatlas.accounts",
    "tenantatlas.audit",
    "tenantatlas.members",
    "tenantatlas.badges",
    "tenantatlas.providers",
    "tenantatlas.graph",
    "tenantatlas.operations.apps.OperationsConfig",
    "tenantatlas.inventory",
    "tenantatlas.notifications",
    "tenantatlas.alerts.apps.AlertsConfig",
    "tenantatlas.onboarding",  # partner app pages, consent links and their callback
    "tenantatlas.overview",
    "tenantatlas.api",
    "tenantatlas.observability.apps.ObservabilityConfig",  # /metrics, logs, readiness reports
    "tenantatlas.embedded",  # serve and demo: what starts everything and seeds the demo
    "tenantatlas.simulator",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "tenantatlas.lib.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "axes.middleware.AxesMiddleware",  # turns a refused sign-in into the lockout page
    "tenantatlas.lib.body_limits.BodyLimitMiddleware",  # 413 before anything reads the body
]

ROOT_URLCONF = "tenantatlas.urls"
WSGI_APPLICATION = "tenantatlas.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "tenantatlas" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenantatlas.workspaces.context_processors.workspace_nav",
                "tenantatlas.operations.context_processors.operation_menus",
            ],
            "builtins": ["tenantatlas.badges.templatetags.badges"],
        },
    }
]

DATABASE_URL = envstr("DATABASE_URL", f"sqlite:///{DATA_DIR / 'tenantatlas.sqlite3'}")
if DATABASE_URL.startswith("sqlite"):
    make_private_dir(DATA_DIR)
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 0))
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # IMMEDIATE transactions take the write lock at BEGIN: the start gate's scope lock on SQLite.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": envint("SQLITE_TIMEOUT", 30),
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    # A file (not :memory:) so threads and worker processes share it; one per test process.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test-{os.getpid()}.sqlite3")}
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
if IS_POSTGRES and ENVIRONMENT != "production":
    # One test database per test process, so parallel test runs never drop each other's.
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}_{os.getpid()}"}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
LOGIN_URL = "accounts:login"
LOGIN_REDIRECT_URL = "overview:home"
LOGOUT_REDIRECT_URL = "accounts:login"

# Sign-in lockout (django-axes, see tenantatlas/accounts/lockout.py). Failures are counted per
# account and, separately, per client address (an address is shared by many people, so its limit
# is higher); reaching either limit refuses every sign-in of that account or from that address,
# before any password is hashed, for the cool-off. `tenantatlas axes_reset_username NAME` unlocks.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: a locked-out sign-in never reaches a hash
    "django.contrib.auth.backends.ModelBackend",
]
SIGN_IN_FAILURE_LIMITS = {
    "username": envint("TENANTATLAS_SIGN_IN_FAILURES_PER_ACCOUNT", 5),
    "ip_address": envint("TENANTATLAS_SIGN_IN_FAILURES_PER_ADDRESS", 20),
}
_SIGN_IN_COOL_OFF_MINUTES = envint("TENANTATLAS_SIGN_IN_COOL_OFF_MINUTES", 15)
signin.check_lockout(SIGN_IN_FAILURE_LIMITS, _SIGN_IN_COOL_OFF_MINUTES)
AXES_HANDLER = "tenantatlas.accounts.lockout.SignInLockoutHandler"
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]  # either one locks
AXES_FAILURE_LIMIT = SIGN_IN_FAILURE_LIMITS["username"]
AXES_COOLOFF_TIME = timedelta(minutes=_SIGN_IN_COOL_OFF_MINUTES)
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False  # refusals while locked are not counted
AXES_CLIENT_IP_CALLABLE = "tenantatlas.lib.middleware.client_ip"  # the audit log's address
AXES_LOCKOUT_CALLABLE = "tenantatlas.accounts.views.sign_in_locked_out"
AXES_DISABLE_ACCESS_LOG = True  # successful sign-ins are not kept (axes would keep them forever)
# A failed attempt keeps its query string: a Microsoft callback's one-time code is masked there.
AXES_SENSITIVE_PARAMETERS = ["username", "ip_address", "code"]

# Sign in with Microsoft (docs/sign-in.md): OpenID Connect through one app registration, for the
# people of the allowed tenants (ids or verified domains) whose Microsoft account is linked to a
# local account. The credential is a client secret or a certificate with its private key (PEM,
# usually through *_FILE). Password sign-in can then be turned off; `tenantatlas break_glass`
# still lets an operator in.
MICROSOFT_SIGN_IN = envbool("TENANTATLAS_MICROSOFT_SIGN_IN", False)
MICROSOFT_SIGN_IN_CLIENT_ID = envstr("TENANTATLAS_MICROSOFT_SIGN_IN_CLIENT_ID", "")
MICROSOFT_SIGN_IN_CLIENT_SECRET = envstr("TENANTATLAS_MICROSOFT_SIGN_IN_CLIENT_SECRET", "")
MICROSOFT_SIGN_IN_CERTIFICATE = envstr("TENANTATLAS_MICROSOFT_SIGN_IN_CERTIFICATE", "")
MICROSOFT_SIGN_IN_PRIVATE_KEY = envstr("TENANTATLAS_MICROSOFT_SIGN_IN_PRIVATE_KEY", "")
MICROSOFT_SIGN_IN_TENANTS = envlist("TENANTATLAS_MICROSOFT_SIGN_IN_TENANTS")
MICROSOFT_SIGN_IN_CLOUD = envstr("TENANTATLAS_MICROSOFT_SIGN_IN_CLOUD", "global")
MICROSOFT_SIGN_IN_FLOW_SECONDS = 600  # from leaving for Microsoft to coming back
PASSWORD_SIGN_IN = envbool("TENANTATLAS_PASSWORD_SIGN_IN", True)
signin.check_sign_in(
    microsoft=MICROSOFT_SIGN_IN,
    password=PASSWORD_SIGN_IN,
    client_id=MICROSOFT_SIGN_IN_CLIENT_ID,
    tenants=MICROSOFT_SIGN_IN_TENANTS,
    client_secret=MICROSOFT_SIGN_IN_CLIENT_SECRET,
    certificate=MICROSOFT_SIGN_IN_CERTIFICATE,
    private_key=MICROSOFT_SIGN_IN_PRIVATE_KEY,
)

LANGUAGE_CODE = "en-us"
TIME_ZONE = envstr("TIME_ZONE", "UTC")
USE_I18N = False
USE_TZ = True

STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = DATA_DIR / "staticfiles"
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = envbool("SECURE_COOKIES", PRODUCTION)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# Content-Security-Policy (docs/decisions.md): scripts and styles only from our own static files,
# no inline code, no eval (htmx is configured for it in base.html), no plugins, no framing.
# data: images are the icons Pico CSS draws inside its stylesheet.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
# Number of reverse proxies in front of the app that append to X-Forwarded-For (audit IPs).
PROXY_HOPS = envint("TENANTATLAS_PROXY_HOPS", 0)
if envbool("SECURE_PROXY_SSL_HEADER", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
# HTTPS enforcement (docs/deploy.md §6): the application redirects plain HTTP and sends HSTS
# itself, or the TLS-terminating proxy does (TENANTATLAS_PROXY_ENFORCES_HTTPS=true), which is
# what makes `check --deploy`'s two warnings about it moot, so only then are they silenced.
SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", False)
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]  # load-balancer probes over plain HTTP
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
PROXY_ENFORCES_HTTPS = envbool("TENANTATLAS_PROXY_ENFORCES_HTTPS", False)
SILENCED_SYSTEM_CHECKS = ["security.W004", "security.W008"] if PROXY_ENFORCES_HTTPS else []

# Time limit of each operation type (seconds; TENANTATLAS_OPERATION_TIMEOUT_<TYPE>, e.g.
# ..._INVENTORY_SYNC): a run past it stops at its next page boundary as run.timed_out.
OPERATION_TIMEOUTS = {
    key: operation_timeout(key, default)
    for key, default in (
        ("provider.health_check", 300),
        ("inventory.sync", 3 * 3600),
        ("compliance.snapshot", 3600),
    )
}
# RQ must never kill a work horse before the run's own limit ends it: the job timeout is the
# longest limit plus the worst case of the page in flight (Graph timeouts and retries).
RQ_JOB_TIMEOUT_MARGIN = 600
RQ_JOB_TIMEOUT = max(OPERATION_TIMEOUTS.values()) + RQ_JOB_TIMEOUT_MARGIN

# Task transport: "database" (default) or "rq" (Redis). Only run ids travel.
TASK_TRANSPORT = envstr("TENANTATLAS_TASK_TRANSPORT", "database")
REDIS_URL = envstr("REDIS_URL", "redis://127.0.0.1:6379/0")
# Task queues, most urgent first (docs/operations.md "Queues"): connection checks, snapshots and
# alert deliveries on `interactive`, inventory syncs on `bulk`, so short work never waits behind
# a long sync. operations/registry.py names each operation's queue; a worker serves a list of
# queues and takes them in its order (`tenantatlas worker --queues interactive,bulk`).
TASK_QUEUE_INTERACTIVE = "interactive"
TASK_QUEUE_BULK = "bulk"
TASK_QUEUES = [TASK_QUEUE_INTERACTIVE, TASK_QUEUE_BULK]
# Worker processes the embedded `serve` starts; 0: one per CPU, at least 2, at most 8.
SERVE_WORKERS = envint("TENANTATLAS_WORKERS", 0)
if SERVE_WORKERS < 0:
    raise EnvError(f"TENANTATLAS_WORKERS={SERVE_WORKERS!r} must be 0 (one per CPU) or more")
TASKS = task_backends(TASK_TRANSPORT, TASK_QUEUES)
if TASK_TRANSPORT == "rq":
    RQ_QUEUES = rq_queues(TASK_QUEUES, REDIS_URL, RQ_JOB_TIMEOUT)
    INSTALLED_APPS += ["django_rq", "django_tasks_rq"]

# Microsoft clouds (tenantatlas/graph/clouds.py): the named presets, plus endpoint pairs from
# configuration: `custom` (national or private deployments, TLS-inspecting proxies, test
# doubles; both URLs or neither) and `simulator`. An unusable endpoint stops every process here.
# TENANTATLAS_CLOUD only preselects the cloud on the connection form.
CLOUD_DEFAULT = envstr("TENANTATLAS_CLOUD", "global")
CUSTOM_AUTHORITY_HOST = envstr("TENANTATLAS_AUTHORITY_HOST", "")
CUSTOM_GRAPH_BASE_URL = envstr("TENANTATLAS_GRAPH_BASE_URL", "")
CUSTOM_GRAPH_RESOURCE = envstr("TENANTATLAS_GRAPH_RESOURCE", GLOBAL_GRAPH_RESOURCE)
SIMULATOR_URL = envstr("TENANTATLAS_SIMULATOR_URL", "")
SIMULATOR_CA_BUNDLE = envstr(
    "TENANTATLAS_SIMULATOR_CA_BUNDLE", str(DATA_DIR / "simulator" / "ca.pem")
)
custom_cloud(CUSTOM_AUTHORITY_HOST, CUSTOM_GRAPH_BASE_URL, CUSTOM_GRAPH_RESOURCE)
simulator_cloud(SIMULATOR_URL, SIMULATOR_CA_BUNDLE)
# Extra CA (PEM) trusted for every cloud besides the public CAs, e.g. a TLS-inspecting proxy's.
EXTRA_CA_BUNDLE = envstr("TENANTATLAS_CA_BUNDLE", "")

GRAPH_TIMEOUT = envfloat("TENANTATLAS_GRAPH_TIMEOUT", 30.0)
GRAPH_MAX_ATTEMPTS = envint("TENANTATLAS_GRAPH_MAX_ATTEMPTS", 6)
GRAPH_MAX_TOTAL_WAIT = envfloat("TENANTATLAS_GRAPH_MAX_TOTAL_WAIT", 120.0)
GRAPH_MAX_INLINE_RETRY_AFTER = envfloat("TENANTATLAS_GRAPH_MAX_INLINE_RETRY_AFTER", 60.0)

# ── Graph budget (tenantatlas/graph/budget/, docs/operations.md "Graph budget") ─────────────
# Every worker paces its Graph requests through buckets shared with all others: one per
# (app, Entra tenant) and one per app across tenants, each letting through at most REQUESTS in
# any SECONDS (Microsoft's limits, docs/microsoft-facts.md "Throttling limits"), BURST of them
# at once. A 429 blocks its pair until Retry-After (else PENALTY_SECONDS) and halves the pair's
# rate, which climbs back to full over RECOVERY_SECONDS. Store: auto (the default: Redis with
# the rq transport, else the database — PostgreSQL, or the embedded SQLite), database, redis
# or off (the test suite's default, tenantatlas/testing_env.py).
GRAPH_BUDGET_STORE = envstr("TENANTATLAS_GRAPH_BUDGET_STORE", "auto")
graph_budget.check_store(GRAPH_BUDGET_STORE)
GRAPH_BUDGET_REDIS_URL = bounded_redis_url(envstr("TENANTATLAS_GRAPH_BUDGET_REDIS_URL", REDIS_URL))
GRAPH_BUDGET_TENANT_REQUESTS = envint("TENANTATLAS_GRAPH_BUDGET_TENANT_REQUESTS", 1000)
GRAPH_BUDGET_TENANT_SECONDS = envfloat("TENANTATLAS_GRAPH_BUDGET_TENANT_SECONDS", 20.0)
GRAPH_BUDGET_APP_REQUESTS = envint("TENANTATLAS_GRAPH_BUDGET_APP_REQUESTS", 130_000)
GRAPH_BUDGET_APP_SECONDS = envfloat("TENANTATLAS_GRAPH_BUDGET_APP_SECONDS", 10.0)
GRAPH_BUDGET_BURST = envfloat("TENANTATLAS_GRAPH_BUDGET_BURST", 0.1)
GRAPH_BUDGET_PENALTY_SECONDS = envfloat("TENANTATLAS_GRAPH_BUDGET_PENALTY_SECONDS", 2.0)
GRAPH_BUDGET_RECOVERY_SECONDS = envfloat("TENANTATLAS_GRAPH_BUDGET_RECOVERY_SECONDS", 60.0)
graph_budget.check_limits(
    tenant_requests=GRAPH_BUDGET_TENANT_REQUESTS,
    tenant_seconds=GRAPH_BUDGET_TENANT_SECONDS,
    app_requests=GRAPH_BUDGET_APP_REQUESTS,
    app_seconds=GRAPH_BUDGET_APP_SECONDS,
    burst=GRAPH_BUDGET_BURST,
    penalty_seconds=GRAPH_BUDGET_PENALTY_SECONDS,
    recovery_seconds=GRAPH_BUDGET_RECOVERY_SECONDS,
)
# ── end of the Graph budget ───────────────────────────────────────────────────────────────

# Operations
RUN_HEARTBEAT_SECONDS = envint("TENANTATLAS_RUN_HEARTBEAT_SECONDS", 10)
# Three missed heartbeats; with `reap --loop` (every 15 s) a lost worker's run ends within ~45 s.
RUN_STALE_AFTER_SECONDS = envint("TENANTATLAS_RUN_STALE_AFTER_SECONDS", 30)
RUN_QUEUED_STALE_AFTER_SECONDS = envint("TENANTATLAS_RUN_QUEUED_STALE_AFTER_SECONDS", 600)
COMPLIANCE_STALE_DAYS = envint("TENANTATLAS_COMPLIANCE_STALE_DAYS", 7)
# Change history rows older than this are pruned by the reaper loop (docs/operations.md).
CHANGE_RETENTION_DAYS = envint("TENANTATLAS_CHANGE_RETENTION_DAYS", 365)
CREDENTIAL_EXPIRY_WARNING_DAYS = envint("TENANTATLAS_CREDENTIAL_EXPIRY_WARNING_DAYS", 30)

# Onboarding: a customer's admin-consent link works for this many days (docs/onboarding.md).
ONBOARDING_LINK_DAYS = envint("TENANTATLAS_ONBOARDING_LINK_DAYS", 7)
if ONBOARDING_LINK_DAYS < 1:
    raise ImproperlyConfigured("TENANTATLAS_ONBOARDING_LINK_DAYS must be at least 1.")

# Workspaces: an invitation's accept link works for this many days.
INVITATION_EXPIRY_DAYS = envint("TENANTATLAS_INVITATION_EXPIRY_DAYS", 7)
if INVITATION_EXPIRY_DAYS < 1:
    raise ImproperlyConfigured("TENANTATLAS_INVITATION_EXPIRY_DAYS must be 1 or more")

# Retention (docs/operations.md, "Retention"): `tenantatlas prune` and each pass of the reaper
# loop delete rows older than this many days, oldest first, in short batches. Expired sessions
# go once they expire; change history and alerts keep their own settings above and below.
RETENTION_RUNS_DAYS = envint("TENANTATLAS_RETENTION_RUNS_DAYS", 180)  # finished runs only
RETENTION_AUDIT_DAYS = envint("TENANTATLAS_RETENTION_AUDIT_DAYS", 365)
RETENTION_NOTIFICATIONS_DAYS = envint("TENANTATLAS_RETENTION_NOTIFICATIONS_DAYS", 90)
RETENTION_TASKS_DAYS = envint("TENANTATLAS_RETENTION_TASKS_DAYS", 7)  # finished queue rows
for _kind, _days in {
    "RUNS": RETENTION_RUNS_DAYS,
    "AUDIT": RETENTION_AUDIT_DAYS,
    "NOTIFICATIONS": RETENTION_NOTIFICATIONS_DAYS,
    "TASKS": RETENTION_TASKS_DAYS,
}.items():
    if _days < 1:
        raise ImproperlyConfigured(f"TENANTATLAS_RETENTION_{_kind}_DAYS must be 1 or more")

# Alerts (docs/alerts.md). E-mail goes out over SMTP when TENANTATLAS_SMTP_URL is set
# (smtp://user:password@host:587 with STARTTLS, smtps://…:465 with TLS, smtp+plain://… for a
# relay on a trusted network); without it, production hands mail to the local mail server
# (localhost:25) and the embedded product writes each e-mail to DATA_DIR/mail/.
SMTP_URL = envstr("TENANTATLAS_SMTP_URL", "")
DEFAULT_FROM_EMAIL = envstr("TENANTATLAS_MAIL_FROM", "TenantAtlas <tenantatlas@localhost>")
SMTP_TIMEOUT = envint("TENANTATLAS_SMTP_TIMEOUT", 15)  # seconds, per SMTP operation
MAILERS = mailers(SMTP_URL, production=PRODUCTION, mail_dir=DATA_DIR / "mail", timeout=SMTP_TIMEOUT)
ALERT_MAX_ATTEMPTS = envint("TENANTATLAS_ALERT_MAX_ATTEMPTS", 8)
ALERT_BACKOFF_BASE_SECONDS = envfloat("TENANTATLAS_ALERT_BACKOFF_BASE_SECONDS", 10.0)
ALERT_BACKOFF_CAP_SECONDS = envfloat("TENANTATLAS_ALERT_BACKOFF_CAP_SECONDS", 3600.0)
# A worker that claimed a delivery and vanished: after this long it is handed out again.
ALERT_LEASE_SECONDS = envint("TENANTATLAS_ALERT_LEASE_SECONDS", 60)
# Alert events and finished deliveries older than this are pruned by the reaper loop.
ALERT_RETENTION_DAYS = envint("TENANTATLAS_ALERT_RETENTION_DAYS", 90)
# Failed deliveries in a row that mark a channel failing (its owners are told in-app).
ALERT_CHANNEL_FAILING_AFTER = envint("TENANTATLAS_ALERT_CHANNEL_FAILING_AFTER", 3)
# Webhook and Teams deliveries (alerts/outbound.py): https to public addresses only, unless
# private networks are allowed (all but link-local, or just the listed CIDRs such as
# 10.20.0.0/16 for on-premises receivers) or plain http to the listed hosts. The CA file (PEM)
# is trusted besides the public CAs. The read timeout bounds the whole exchange.
ALERTS_ALLOW_PRIVATE_NETWORKS = envbool("TENANTATLAS_ALERTS_ALLOW_PRIVATE_NETWORKS", False)
ALERTS_PRIVATE_NETWORKS = envlist("TENANTATLAS_ALERTS_PRIVATE_NETWORKS")
ALERTS_HTTP_HOSTS = envlist("TENANTATLAS_ALERTS_HTTP_HOSTS")
ALERTS_CA_FILE = envstr("TENANTATLAS_ALERTS_CA_FILE", "")
ALERTS_CONNECT_TIMEOUT = envfloat("TENANTATLAS_ALERTS_CONNECT_TIMEOUT", 5.0)
ALERTS_READ_TIMEOUT = envfloat("TENANTATLAS_ALERTS_READ_TIMEOUT", 15.0)
ALERTS_MAX_RESPONSE_BYTES = envint("TENANTATLAS_ALERTS_MAX_RESPONSE_BYTES", 65536)

# ── Observability: metrics and logs (docs/operations.md "Metrics", "Logs") ────────────────
# /metrics answers a scraper that sends `Authorization: Bearer <TENANTATLAS_METRICS_TOKEN>`;
# with no token configured, only requests that reach the process directly (no proxy headers)
# from loopback or TENANTATLAS_METRICS_ALLOWED_NETWORKS (CIDRs). Everything else gets 404/401.
METRICS_TOKEN = envstr("TENANTATLAS_METRICS_TOKEN", "")
if METRICS_TOKEN and len(METRICS_TOKEN) < 16:
    raise ImproperlyConfigured("TENANTATLAS_METRICS_TOKEN must be at least 16 characters")
METRICS_ALLOWED_NETWORKS = envlist("TENANTATLAS_METRICS_ALLOWED_NETWORKS")
observability.check_metrics_networks(METRICS_ALLOWED_NETWORKS)
# Counters of the worker, reaper and web processes of this machine meet in one directory
# (prometheus_client's multiprocess mode); chosen before anything imports prometheus_client.
METRICS_DIR = prepare_metrics_dir(DATA_DIR)
SECURE_REDIRECT_EXEMPT += [r"^metrics$"]  # scraped over plain HTTP inside the network

# Logs: one line per record on stderr, plain (default) or JSON (TENANTATLAS_LOG_FORMAT=json,
# one object per line with the record's fields). Every handler sanitizes (lib/sanitize.py).
LOG_LEVEL = envstr("LOG_LEVEL", "INFO")
LOG_FORMAT = envstr("TENANTATLAS_LOG_FORMAT", "plain")
LOGGING = observability.logging_config(LOG_LEVEL, LOG_FORMAT)
