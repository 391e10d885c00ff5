"""Who is calling: a console user or an API key, with a role. Pure."""

from __future__ import annotations

from dataclasses import dataclass

ROLES = ("intake", "supervisor", "analyst", "finance", "admin")


class IdentityError(ValueError):
    """Bad input for a user or key (unknown role, name taken, weak password)."""


@dataclass(frozen=True)
class Identity:
    kind: str  # key | user
    id: int
    name: str  # username, or the key's name (= the client id of an intake client)
    role: str
    prefix: str | None = None

    @property
    def client_scope(self) -> str | None:
        return self.name if self.role == "intake" else None


@dataclass(frozen=True)
class CachedKey:
    """An API key a process looked up: its identity and secret hash, trusted until
    `expires_at` (time.monotonic())."""

    identity: Identity
    secret_hash: str
    expires_at: float


def check_role(role: str) -> None:
    if role not in ROLES:
        raise IdentityError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
