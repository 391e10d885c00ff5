"""Keys and users for the auth and supervisor tests."""

from __future__ import annotations

from typing import Any

from service.usecases.manage_api_keys import create_api_key
from service.usecases.manage_users import create_user

PASSWORD = "correct horse battery staple"


def key(app: Any, role: str, name: str | None = None) -> dict[str, str]:
    """Authorization headers for a fresh key with this role."""
    new = create_api_key(app.extensions["claims"], name or f"{role}-client", role)
    return {"Authorization": f"Bearer {new.key}"}


def user(app: Any, username: str, role: str, email: str | None = None) -> None:
    create_user(app.extensions["claims"], username, PASSWORD, role, email=email)
