"""Fixtures of the console's browser tests (helpers: tests/e2e/browser.py): the app in a
server thread (this folder's `server`, not the `claims serve` process of tests/e2e), one
Chromium per test, a tab whose responses and CSP complaints are watched."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import pytest
from werkzeug.serving import make_server

from tests.e2e.browser import Watch


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """One database is enough here: the browser tests are about the pages."""
    return sqlite_url


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    httpd = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()
    thread.join(5)


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def page(browser_context: Any, server: str, watch: Watch) -> Iterator[Any]:
    context = browser_context.new_context(viewport={"width": 1280, "height": 800})
    tab = context.new_page()
    tab.set_default_timeout(10_000)
    tab.on("response", lambda r: watch.responses.append(r))
    tab.on(
        "console",
        lambda m: watch.csp_errors.append(m.text) if "Content Security Policy" in m.text else None,
    )
    yield tab
    context.close()
