"""The running app for the browser tests: a demo knowledge base with accounts, served by
uvicorn in a background thread on a free loopback port, and headless Chromium (Debian's
``/usr/bin/chromium``, driven by Playwright) with every request it makes logged.

Screenshots go to ``$KNOWSYNC_SCREENSHOTS`` or ``tests/browser/screenshots/``.
"""

from __future__ import annotations

import contextlib
import gc
import os
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from playwright.sync_api import Browser, Page, sync_playwright

from knowsync import KnowSync
from tests.conftest import serving as serve_in_thread

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
DEMO_KG = Path(__file__).resolve().parents[2] / "datasets" / "oneedit" / "kg.csv"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}
SCREENSHOTS = Path(
    os.environ.get("KNOWSYNC_SCREENSHOTS") or Path(__file__).resolve().parent / "screenshots"
)

if not CHROMIUM.exists():
    pytest.skip(
        "browser tests need Debian's chromium at /usr/bin/chromium (run tests/browser/setup.sh)",
        allow_module_level=True,
    )


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The server runs in this process, so the test's warning filters (errors) reach Gradio's
    own threads: Gradio leaves asyncio event loops of its own unclosed when an app is mounted,
    and its queue calls a deprecated pandas option. Those warnings are not ours to fix, and
    would turn into failed requests rather than failed tests; only this folder runs a server."""
    here = Path(__file__).resolve().parent
    for item in items:
        if here in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.filterwarnings("ignore::ResourceWarning"))
            item.add_marker(pytest.mark.filterwarnings("ignore::DeprecationWarning"))
            item.add_marker(
                pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
            )


@dataclass
class App:
    """The served app: its URL, its knowledge base and a token per account; what the pages
    asked of the network and what they said on their consoles."""

    url: str
    ks: KnowSync
    tokens: dict[str, str]
    requests: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)


def _asgi_app(ks: KnowSync) -> FastAPI:
    """The HTTP API with the web app when the API exists, else the web app alone."""
    try:
        from ui.api import create_app
    except ImportError:
        from ui.web import mount

        return mount(FastAPI(), ks)
    return create_app(ks)


@contextlib.contextmanager
def serving(asgi: FastAPI) -> Iterator[str]:
    """``asgi`` served on a free loopback port (tests/conftest.py ``serving``); afterwards
    Gradio's leftover event loops are collected quietly."""
    with serve_in_thread(asgi, log_level="warning") as url:
        yield url + "/"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.fixture(scope="module")
def app() -> Iterator[App]:
    # module scope: the server and Gradio's threads are gone before other folders' tests run
    # (anything they raised later would be reported against an unrelated test)
    ks = KnowSync("memory://")
    ks.import_file(DEMO_KG, user="demo")
    tokens = {}
    for name, role in (
        ("alice", "editor"),
        ("bob", "editor"),
        ("carol", "curator"),
        ("vera", "viewer"),
        ("root", "admin"),
    ):
        _, tokens[name] = ks.add_user(name, role)
    with serving(_asgi_app(ks)) as url:
        yield App(url, ks, tokens)
    ks.close()


@pytest.fixture(scope="module")
def browser(app: App) -> Iterator[Browser]:
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def page(app: App, browser: Browser) -> Iterator[Page]:
    """A fresh browser context (a new session) at 1360x900; its requests go to ``app.requests``,
    its console's errors and warnings and its uncaught exceptions to ``app.console``."""
    context = browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(20_000)
    tab = context.new_page()
    tab.on("request", lambda request: app.requests.append(request.url))
    tab.on(
        "console",
        lambda message: (
            app.console.append(message.text) if message.type in ("error", "warning") else None
        ),
    )
    tab.on("pageerror", lambda error: app.console.append(str(error)))
    yield tab
    context.close()


def non_local(urls: list[str]) -> list[str]:
    """The URLs that leave the machine (data: and blob: URLs stay in the page)."""
    out = []
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about", "chrome-extension"):
            continue
        if (parts.hostname or "") not in LOCAL_HOSTS:
            out.append(url)
    return out


def csp_violations(console: list[str]) -> list[str]:
    """The console lines that report something the Content-Security-Policy blocked."""
    return [line for line in console if "Content Security Policy" in line]


def shot(page: Page, name: str, *, settled: bool = True) -> Path:
    """Save a full-page screenshot, once Gradio has finished updating (``settled=False``: as
    it is now, an answer still on its way), and return its path."""
    # an output still updating is drawn faded with a timer over it: wait for it to settle
    if settled:
        page.wait_for_function(
            "() => !document.querySelector('.pending, .eta-bar, .progress-text')",
            timeout=30_000,
        )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture(scope="module")
def own_browser() -> Iterator[Browser]:
    """A browser for a module that serves an app of its own (not ``app``)."""
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
        yield chromium
        chromium.close()


@pytest.fixture
def tab(own_browser: Browser) -> Iterator[Page]:
    """A fresh browser context of ``own_browser`` at 1360x900."""
    context = own_browser.new_context(viewport={"width": 1360, "height": 900})
    context.set_default_timeout(20_000)
    yield context.new_page()
    context.close()
