"""Who is calling. Until authentication is switched on every caller is `default`."""

from __future__ import annotations

from flask import g, request


def current_client_id() -> str:
    return str(g.get("client_id", "default"))


def current_actor() -> str:
    return str(g.get("actor", "api"))


def visible_client_id() -> str | None:
    """Intake clients see only their own claims; staff roles see all (None)."""
    return g.get("client_scope", None)


def source_address() -> str | None:
    return request.remote_addr
