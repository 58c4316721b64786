"""Fixtures for the browser tests: Chromium, a live server, a worker thread, screenshots.

Chromium is Debian's ``/usr/bin/chromium`` (CI installs it; ``playwright install`` is never
used). Missing, it skips these tests on a developer machine and fails them in CI.

Every page of every browser test is watched for Content-Security-Policy violations: a script
installed before any page script records each ``securitypolicyviolation`` event (in
``window.__cspViolations`` and, through a binding that survives navigations, in Python), and
console errors that mention the policy are kept too. ``csp_problems(page)`` returns both; the
``page`` fixture fails the test if any were seen that the test did not collect itself.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.db import connections

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SCREENSHOTS = Path(settings.BASE_DIR) / "test-artifacts" / "screenshots"

_CSP_PROBLEMS: dict[int, list[str]] = {}  # per open tab, filled by the listener below

# Runs in every document before its own scripts (Playwright injects it through the DevTools
# protocol, which the page's policy does not govern).
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  const seen = {
    directive: event.effectiveDirective || event.violatedDirective,
    blocked: String(event.blockedURI || ""),
    source: String(event.sourceFile || ""),
    line: event.lineNumber,
    sample: String(event.sample || ""),
    page: String(document.location.href),
  };
  window.__cspViolations.push(seen);
  if (window.__reportCspViolation) { window.__reportCspViolation(seen); }
});
"""


@pytest.fixture(scope="module")
def browser_context(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Any]:
    """One Chromium per module with a fresh profile; tests clear cookies between them.

    A module that visits the simulator's pages (its own test CA) sets
    ``ACCEPTS_SIMULATOR_CERTIFICATE = True``."""
    if not CHROMIUM.exists():
        message = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(message + "; CI must provide it")
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make
    # between browser steps are still plain synchronous code.
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            context = playwright.chromium.launch_persistent_context(
                tmp_path_factory.mktemp("chromium-profile"),
                executable_path=str(CHROMIUM),
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1280, "height": 860},
                ignore_https_errors=getattr(request.module, "ACCEPTS_SIMULATOR_CERTIFICATE", False),
            )
            context.set_default_timeout(15_000)
            context.add_init_script(CSP_LISTENER)
            try:
                yield context
            finally:
                context.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def page(browser_context: Any) -> Iterator[Any]:
    """A fresh tab; the test fails if any page it showed broke the Content-Security-Policy."""
    browser_context.clear_cookies()
    page = browser_context.new_page()
    problems: list[str] = []
    page.expose_function("__reportCspViolation", lambda seen: problems.append(_describe(seen)))
    page.on("console", lambda msg: _csp_console_error(msg, problems))
    _CSP_PROBLEMS[id(page)] = problems
    try:
        yield page
        page.evaluate("0")  # deliver violations still on their way to the binding
    finally:
        page.close()
        _CSP_PROBLEMS.pop(id(page), None)
    assert problems == [], f"Content-Security-Policy violations: {problems}"


def _describe(seen: dict[str, Any]) -> str:
    where = f"{seen.get('source') or seen.get('page')}:{seen.get('line')}"
    return f"{seen.get('directive')} blocked {seen.get('blocked') or 'inline'} at {where}"


def _csp_console_error(message: Any, problems: list[str]) -> None:
    if message.type == "error" and "Content Security Policy" in message.text:
        problems.append(f"console: {message.text}")


def csp_problems(page: Any, *, collect: bool = True) -> list[str]:
    """Violations (and console errors naming the policy) seen on this tab so far.

    ``collect`` takes them off the list the ``page`` fixture checks at the end (for a test that
    provokes one on purpose).
    """
    page.evaluate("0")  # a round trip delivers the binding calls queued so far
    problems = _CSP_PROBLEMS[id(page)]
    found = list(problems)
    if collect:
        problems.clear()
    return found


@pytest.fixture
def fast_passwords(settings: Any) -> None:
    """The cast signs in through the form; the production hasher is slow on purpose."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def run_worker(transactional_db: Any) -> Iterator[None]:
    """A worker in a thread: executes queued runs as a real worker would, until the test ends.

    It claims through ``worker.execute`` like ``manage.py worker`` does, so the pages see the
    real transitions queued → running → finished (and the completion listeners run).
    """
    from tenantatlas.operations.models import OperationRun, RunStatus
    from tenantatlas.operations.worker import execute

    stop = threading.Event()
    errors: list[BaseException] = []

    def loop() -> None:
        try:
            while not stop.is_set():
                queued = OperationRun.objects.filter(status=RunStatus.QUEUED).order_by("pk")
                for pk in list(queued.values_list("pk", flat=True)):
                    execute(pk)
                stop.wait(0.2)
        except BaseException as exc:  # reported when the fixture ends
            errors.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=loop, name="e2e-worker", daemon=True)
    thread.start()
    yield
    stop.set()
    thread.join(timeout=120)
    assert not thread.is_alive(), "the worker thread did not stop"
    assert not errors, f"the worker thread failed: {errors!r}"


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot for people to look at (test-artifacts/ is not committed)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, base_url: str, username: str = "alice") -> None:
    """Sign in through the form (the cast's password) and wait for the landing page."""
    from tenantatlas.testing import PASSWORD

    page.goto(base_url + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_load_state()


def assert_fits(page: Any) -> None:
    """The page is no wider than the window (tables scroll in their own box)."""
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert width[0] <= width[1], f"the page is wider than the window: {width}"


def click_for_toast(page: Any, target: Any, *, timeout: float = 20_000) -> Any:
    """Click ``target`` and return a stable locator of the toast its answer adds.

    The toasts already shown are marked first, so the new one is found even if an earlier
    success toast goes away by itself meanwhile (counting them would race with that). The
    answer's time is not what is tested: on a loaded machine a start can wait for the database
    behind a worker's run (SQLite has one writer)."""
    from playwright.sync_api import expect

    page.evaluate("document.querySelectorAll('#toasts .toast').forEach(t => t.dataset.seen = '1')")
    fresh = page.locator("#toasts .toast:not([data-seen])")
    # A menu whose items are still arriving (or settling) is not what a person clicks in.
    loading = "details.actions-menu:is(.htmx-request, .htmx-settling), details.actions-menu .htmx-settling"
    expect(page.locator(loading)).to_have_count(0, timeout=timeout)
    target.click()
    expect(fresh).to_have_count(1, timeout=timeout)
    name = f"t{uuid.uuid4().hex[:8]}"
    fresh.first.evaluate("(t, name) => { t.dataset.seen = '1'; t.dataset.name = name; }", name)
    return page.locator(f'#toasts .toast[data-name="{name}"]')
