"""Security headers on every console response: a strict Content-Security-Policy.

The console runs no inline script or style (console.js and console.css are files), so
the policy allows only its own origin; frames only from itself (the letters on a claim
page), and no one may frame the console. A letter's HTML part is served by its own
route with a stricter policy of its own (`LETTER_CSP`): a sandbox with no scripts, no
network and no forms, so claimant text inside it can never act on the console.
"""

from __future__ import annotations

from flask import Response

from service.api.console.views import bp

CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-src 'self'; "
    "frame-ancestors 'none'"
)
LETTER_CSP = (
    "sandbox; default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'self'"
)


@bp.after_request
def _security_headers(response: Response) -> Response:
    response.headers.setdefault("Content-Security-Policy", CONSOLE_CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("X-Frame-Options", "DENY")  # with frame-ancestors, for old browsers
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response
