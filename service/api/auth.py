"""Who may call what: API keys (Bearer) and console sessions, roles, CSRF, rate limits.

Every view is wrapped in `requires(*roles)`, which records the roles on the view
(`view._roles`) so a test can walk the route table. It sets g.client_id, g.actor
and g.client_scope (intake clients see only their own claims).
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
from collections.abc import Callable
from typing import Any

from flask import Flask, current_app, g, has_request_context, request, session
from flask.sessions import SecureCookieSessionInterface
from limits import parse as parse_limit

from service.adapters.rate_limit import BatchedRateLimiter
from service.api.problems import Problem
from service.domain.identity import ROLES, Identity
from service.usecases import check_credentials, console_sessions
from service.usecases.record_claim_view import record_claim_view

log = logging.getLogger(__name__)
SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
PUBLIC_ENDPOINTS = {
    "health.healthz",
    "health.readyz",
    "metrics",
    "static",
    "console.login",
    "console.static",
    "api-docs.openapi_json",
}
LIMITER = "claims_limiter"


def requires(*roles: str, audit_view: bool = False) -> Callable[[Callable[..., Any]], Any]:
    """Allow only these roles. `audit_view`: staff reads of the claim are audit events."""
    unknown = set(roles) - set(ROLES)
    if not roles or unknown:
        raise ValueError(f"requires() needs known roles, got {roles!r}")

    def decorate(view: Callable[..., Any]) -> Any:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            identity = authenticate()
            if identity.role not in roles:
                raise Problem(403, f"The role {identity.role!r} may not do this.", code="forbidden")
            result = view(*args, **kwargs)
            if audit_view and identity.role != "intake":
                _audit_view(identity, kwargs.get("claim_id"), result)
            return result

        wrapper._roles = tuple(roles)  # type: ignore[attr-defined]
        return wrapper

    return decorate


def authenticate() -> Identity:
    """The caller (cached for the request), after the rate limit and the CSRF check."""
    if "identity" in g:
        return g.identity  # type: ignore[no-any-return]
    ctx = current_app.extensions["claims"]
    failure: Problem | None = None
    identity: Identity | None = None
    header = request.headers.get("Authorization")
    if header is not None:
        g.auth_via = "key"
        scheme, _, token = header.partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            identity = check_credentials.authenticate_key(ctx, token.strip())
        if identity is None:
            failure = Problem(
                401,
                "The API key is missing, malformed, unknown or revoked.",
                code="unauthenticated",
                headers={"WWW-Authenticate": "Bearer"},
            )
    else:
        identity = _session_identity(ctx)
        if identity is None:
            failure = Problem(
                401,
                "Send an API key (Authorization: Bearer ...) or log in.",
                code="unauthenticated",
                headers={"WWW-Authenticate": "Bearer"},
            )
    g.rate_key = _rate_key(identity)
    _check_rate_limit()
    if failure is not None or identity is None:
        raise failure or Problem(401, "Unauthenticated", code="unauthenticated")
    if g.auth_via == "session" and request.method not in SAFE_METHODS:
        _check_csrf()
    g.identity = identity
    g.actor = identity.name
    g.client_id = identity.name
    g.client_scope = identity.client_scope
    return identity


def _session_identity(ctx: Any) -> Identity | None:
    """The user of the console session the cookie names, if it is still live
    (server-side record: service/usecases/console_sessions.py)."""
    g.auth_via = "session"
    token = session.get("sid")
    if not isinstance(token, str):
        return None
    identity = console_sessions.resume_session(ctx, token)
    if identity is None:
        session.clear()
    return identity


def _rate_key(identity: Identity | None) -> str:
    if identity is None:
        return f"ip:{request.remote_addr or 'unknown'}"
    if identity.kind == "key":
        return f"key:{identity.prefix}"
    return f"user:{identity.name}"


def _check_rate_limit() -> None:
    """One hit on the caller's window (service/adapters/rate_limit.py); Redis down = let through."""
    limiter: BatchedRateLimiter | None = current_app.extensions.get(LIMITER)
    if limiter is None:
        return
    wait = limiter.hit(str(g.get("rate_key")))
    if wait is None:
        return
    raise Problem(
        429,
        f"Rate limit of {limiter.amount} per {limiter.seconds} s exceeded; retry after {wait} s.",
        code="rate_limited",
        headers={"Retry-After": str(wait)},
    )


# --- console sessions and CSRF ------------------------------------------------------


def start_session(identity: Identity) -> None:
    """A fresh server-side session and cookie (never the one from before the login)."""
    session.clear()
    session.permanent = True
    session["sid"] = console_sessions.open_session(current_app.extensions["claims"], identity)
    session["csrf"] = secrets.token_urlsafe(32)


def end_session(identity: Identity) -> None:
    """Log out: every session of this user ends, in every browser, and the cookie goes."""
    console_sessions.log_out(current_app.extensions["claims"], identity, request.remote_addr)
    session.clear()


class ConsoleCookie(SecureCookieSessionInterface):
    """Flask's signed cookie, marked Secure whenever the request came over HTTPS
    (behind a proxy: PROXY_COUNT lets its X-Forwarded-Proto count), or always with
    SESSION_COOKIE_SECURE=true."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config["SESSION_COOKIE_SECURE"]) or (
            has_request_context() and request.is_secure
        )


def csrf_token() -> str:
    token = session.get("csrf")
    if not isinstance(token, str):
        token = session["csrf"] = secrets.token_urlsafe(32)
    return token


def _check_csrf() -> None:
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token") or ""
    expected = session.get("csrf")
    if not isinstance(expected, str) or not hmac.compare_digest(sent, expected):
        raise Problem(
            400,
            "The form is missing its CSRF token or it is stale; reload the page.",
            code="csrf_failed",
        )


def check_login_csrf() -> None:
    """The login form posts before there is a user; its token lives in the session too."""
    _check_csrf()


# --- audit of staff reads -----------------------------------------------------------


def _audit_view(identity: Identity, claim_id: str | None, result: Any) -> None:
    status = result[1] if isinstance(result, tuple) and len(result) > 1 else 200
    if not claim_id or status != 200:
        return
    record_claim_view(
        current_app.extensions["claims"],
        claim_id,
        actor=identity.name,
        via=identity.kind,
        role=identity.role,
        source=request.remote_addr,
    )


# --- wiring -------------------------------------------------------------------------


def init_auth(app: Flask, config: Any) -> None:
    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=bool(config.session_cookie_secure),
        SESSION_COOKIE_NAME="claims_session",
        PERMANENT_SESSION_LIFETIME=int(config.session_hours) * 3600,
    )
    app.session_interface = ConsoleCookie()
    app.extensions[LIMITER] = BatchedRateLimiter(config.redis_url, parse_limit(config.rate_limit))


def install_security_scheme(api: Any) -> None:
    api.spec.components.security_scheme(
        "bearerAuth", {"type": "http", "scheme": "bearer", "description": "ck_live_XXXXXXXX.secret"}
    )
    api.spec.options["security"] = [{"bearerAuth": []}]
