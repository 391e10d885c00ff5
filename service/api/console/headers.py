"""Security headers on every response of the app (console pages, their 404/405 pages,
static files and the API alike), installed app-wide so that a response no console route
matched gets them too: a strict Content-Security-Policy, nosniff, no framing, a
same-origin referrer; console pages (not their static files) are `Cache-Control:
no-store` (a claim file stays out of the browser's and proxies' caches).

The console runs no inline script or style (console.js and console.css are files), so
the policy allows only its own origin; frames only from itself (the letters on a claim
page), and no one may frame the console. A letter's HTML part is served by its own
route with a stricter policy of its own (`LETTER_CSP`): a sandbox with no scripts, no
network and no forms, so claimant text inside it can never act on the console.
"""

from __future__ import annotations

from flask import Flask, Response, request

CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-src 'self'; "
    "frame-ancestors 'none'"
)
LETTER_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)


API_CSP = "default-src 'none'; frame-ancestors 'none'"  # JSON: nothing to load or frame


def security_headers(response: Response) -> Response:
    """Every response: the headers above (a route that set its own keeps them)."""
    console = request.path == "/console" or request.path.startswith("/console/")
    response.headers.setdefault("Content-Security-Policy", CONSOLE_CSP if console else API_CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")  # with frame-ancestors, for old browsers
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if console and not request.path.startswith("/console/static/"):
        response.headers["Cache-Control"] = "no-store"
    return response


def install_headers(app: Flask) -> None:
    app.after_request(security_headers)
