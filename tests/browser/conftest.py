"""Browser fixtures: Debian's chromium through Playwright, and the app served from a thread.

The app runs against the same test database backends as ``tests/conftest.py``
(SQLite, and PostgreSQL when FORMENGINE_TEST_DATABASE_URL is set). Without a
chromium the browser tests are skipped with the reason, unless
FORMENGINE_REQUIRE_BROWSER=1 (CI), where a missing browser is a failure.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import threading
import warnings
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from tests.browser.kitchen import PLUGINS
from tests.conftest import load_demo_into

CHROMIUM_CANDIDATES = ("/usr/bin/chromium", "/usr/bin/chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
VIEWPORTS = {"portrait": {"width": 820, "height": 1180}, "landscape": {"width": 1180, "height": 820}}
ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("FORMENGINE_TEST_ARTIFACTS", ROOT / "test-artifacts")) / "browser"
AXE = Path(__file__).with_name("vendor") / "axe-core" / "axe.min.js"


def _chromium_path() -> str | None:
    configured = os.environ.get("FORMENGINE_CHROMIUM")
    if configured:
        return configured
    return next((p for p in CHROMIUM_CANDIDATES if Path(p).exists()), None) or shutil.which("chromium")


def _unavailable(reason: str):
    if os.environ.get("FORMENGINE_REQUIRE_BROWSER") == "1":
        pytest.fail(f"browser tests are required here (FORMENGINE_REQUIRE_BROWSER=1): {reason}")
    pytest.skip(reason)


class Chromium:
    """Debian's chromium for the run, launched again when a test had to end it (see ``close_context``)."""

    def __init__(self, playwright, path: str):
        self.playwright = playwright
        self.path = path
        self.current = None

    def get(self):
        if self.current is None or not self.current.is_connected():
            self.current = self.playwright.chromium.launch(executable_path=self.path, args=CHROMIUM_ARGS)
        return self.current


@pytest.fixture(scope="session")
def chromium():
    """One chromium for the whole run (contexts keep the tests apart)."""
    path = _chromium_path()
    if not path:
        _unavailable("no chromium found (install Debian's chromium or set FORMENGINE_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed")
    with sync_playwright() as playwright:
        launched = Chromium(playwright, path)
        yield launched
        if launched.current is not None and launched.current.is_connected():
            launched.current.close()


@pytest.fixture
def browser(chromium):
    return chromium.get()


def _chromium_processes() -> list[int]:
    """The chromium processes this test process started (its descendants named chrom...), from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        parent = int(stat[stat.rindex(")") + 2:].split()[1])
        children.setdefault(parent, []).append(int(entry.name))
    found, todo = [], list(children.get(os.getpid(), []))
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        try:
            program = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")[0]
        except OSError:
            continue
        if "chrom" in Path(program.decode(errors="replace")).name:
            found.append(pid)
    return found


def _end_chromium() -> None:
    for pid in _chromium_processes():
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def close_context(context, patience: float = 60) -> None:
    """Close a browser context; if chromium has not closed it within ``patience`` seconds, end chromium.

    On a loaded machine chromium was seen never to finish closing a context whose pages had used the
    service worker (and to stay wedged for the tests after). The test's own checks are done by then;
    the next test gets a freshly launched chromium, and the run says it happened.
    """
    from playwright.sync_api import Error as PlaywrightError

    ended = threading.Event()

    def end():
        ended.set()
        _end_chromium()

    timer = threading.Timer(patience, end)
    timer.start()
    try:
        # A test may end just before its page reloads itself (the stepper shows the step as stored once
        # the answer queue has sent saves given before the page loaded); closing the context while that
        # reload, served by the service worker, is under way wedged chromium (1-2 of 6 reload tests).
        for page in context.pages:
            with contextlib.suppress(PlaywrightError):
                page.wait_for_load_state("networkidle", timeout=15000)
        context.close()
    except PlaywrightError:
        if not ended.is_set():
            raise
    finally:
        timer.cancel()
    if ended.is_set():
        warnings.warn(f"chromium did not close a browser context within {patience:.0f} s; it was ended "
                      "and is launched again", stacklevel=2)


class LiveServer:
    """The app served by werkzeug from a daemon thread on a free 127.0.0.1 port."""

    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.thread.join(timeout=10)


@pytest.fixture
def live_app(make_app):
    """The app with demo data and the all-question-types test instrument."""
    app = make_app(EXTRA_PLUGINS=PLUGINS)
    load_demo_into(app)
    return app


@pytest.fixture
def live_server(live_app):
    with LiveServer(live_app) as server:
        yield server


def _slug(text: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_.-]+", "-", text).strip("-")[:120]


@pytest.fixture
def tablet(browser, live_server, request):
    """A fresh touch-enabled tablet page; ``request.param`` or the "viewport" marker picks the orientation."""
    orientation = getattr(request, "param", None) or "portrait"
    context = browser.new_context(
        viewport=VIEWPORTS[orientation], has_touch=True, is_mobile=False, locale="da-DK",
        # Lets the tests inject axe-core; the app's own CSP is checked in the fast tests.
        bypass_csp=True,
        base_url=live_server.url,
    )
    context.set_default_timeout(15000)
    page = context.new_page()
    page.orientation = orientation
    page.shots = Screenshots(request.node.name)
    yield page
    close_context(context)


class Screenshots:
    """Numbered screenshots of each step under test-artifacts/browser/<test>/."""

    def __init__(self, test_name: str):
        self.folder = ARTIFACTS / _slug(test_name)
        shutil.rmtree(self.folder, ignore_errors=True)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    def take(self, page, label: str) -> None:
        self.count += 1
        page.screenshot(path=str(self.folder / f"{self.count:03d}-{_slug(label)}.png"))


def run_axe(page) -> list[dict]:
    """Serious and critical accessibility violations on the current page (axe-core, WCAG 2 A/AA)."""
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(path=str(AXE))
    result = page.evaluate(
        """async () => {
            const r = await axe.run(document, {runOnly: {type: 'tag',
                values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'best-practice']}});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                                           nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]
