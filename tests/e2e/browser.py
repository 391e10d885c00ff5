"""What the console's browser tests share: Debian's Chromium driven by Playwright against
the app in a server thread, login, axe-core (vendored under tests/e2e/vendor, injected
by the tests), and a check of every console response's security headers.

Without /usr/bin/chromium or playwright the tests skip locally and FAIL in CI (env CI set).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.auth_helpers import PASSWORD

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "test-artifacts" / "screenshots"
DOC_SHOTS = ROOT / "docs" / "img"
AXE = Path(__file__).with_name("vendor") / "axe-core-4.14.1" / "axe.min.js"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def need_browser() -> None:
    missing = []
    if not Path(CHROMIUM).exists():
        missing.append(f"{CHROMIUM} (apt-get install -y chromium)")
    try:
        import playwright  # noqa: F401
    except ImportError:
        missing.append("playwright (pip install playwright)")
    if missing:
        message = "browser tests need " + " and ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)


class Watch:
    """Every console response the browser received, and every CSP complaint it logged."""

    def __init__(self) -> None:
        self.responses: list[Any] = []
        self.csp_errors: list[str] = []

    def check(self) -> None:
        assert not self.csp_errors, self.csp_errors
        console = [r for r in self.responses if "/console/" in r.url]
        assert console, "no console response seen"
        for response in console:
            headers = response.all_headers()
            csp = headers.get("content-security-policy", "")
            url = response.url
            assert csp, url
            if "/letter" in url:
                assert "frame-ancestors 'self'" in csp and "sandbox" in csp, url
            else:
                assert "frame-ancestors 'none'" in csp, url
                assert headers.get("x-frame-options") == "DENY", url
                script = next(p for p in csp.split(";") if "script-src" in p or "default" in p)
                assert "unsafe-inline" not in script and "unsafe-eval" not in csp, url
            assert headers.get("x-content-type-options") == "nosniff", url
            assert headers.get("referrer-policy"), url


def login(page: Any, server: str, username: str) -> None:
    page.goto(f"{server}/console/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()


def axe(page: Any) -> list[dict[str, Any]]:
    """axe-core's serious and critical violations on the page as it is now (WCAG 2.x A/AA
    and best practices). Injected through the DevTools protocol, so the console's own
    Content-Security-Policy (no inline script) stays on."""
    if not page.evaluate("() => !!window.axe"):
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;void 0")
    result = page.evaluate(
        """async () => {
            const r = await window.axe.run(document, {resultTypes: ['violations']});
            return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
                nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
        }"""
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


def shot(page: Any, name: str, *, docs: bool = False, element: str | None = None) -> None:
    """A screenshot in test-artifacts/screenshots (the whole page), and in docs/img when
    `docs` and UPDATE_DOC_SHOTS=1 (the viewport, or just `element`): a plain test run
    leaves the docs alone."""
    page.screenshot(path=str(SHOTS / name), full_page=True)
    if docs and os.environ.get("UPDATE_DOC_SHOTS") == "1":
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        target = str(DOC_SHOTS / name)
        if element:
            page.locator(element).screenshot(path=target)
        else:
            page.screenshot(path=target, full_page=False)
