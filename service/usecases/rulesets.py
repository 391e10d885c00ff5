"""Rulesets in the database: each version's text kept for audit, and the active one.

The live ruleset of a process is `service.rules.manager.RulesetManager`; this module
is its `RulesetStore` (`DatabaseRulesetStore`: the last active version, for a process
that starts while the rules folder is broken) and the reads behind /v1/rulesets.
`ensure_ruleset_stored` keeps each ruleset's full text once, by version, for audit.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from service.clock import Clock, SystemClock
from service.db import rulesets
from service.db.session import READ_ONLY, Session, Sessions
from service.rules.manager import RulesetManager

log = logging.getLogger(__name__)


class DatabaseRulesetStore:
    """RulesetStore on the `rulesets` table (text by version, `activated_at`).

    `clock` stamps `activated_at`; production leaves it the system clock, since the
    column orders real switches across the host's processes."""

    def __init__(self, sessions: Sessions, clock: Clock | None = None) -> None:
        self.sessions = sessions
        self.clock = clock or SystemClock()

    def last_active(self) -> tuple[str, dict[str, str]] | None:
        with self._reading() as session:
            row = rulesets.last_active_ruleset(session)
            return None if row is None else (row.version, dict(row.files))

    def files_of(self, version: str) -> dict[str, str] | None:
        with self._reading() as session:
            row = rulesets.get_ruleset(session, version)
            return None if row is None else dict(row.files)

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        """A read that never waits for a writer (the caller may be inside a transaction
        of its own: on SQLite a second writer would queue behind it)."""
        with self.sessions() as session:
            session.connection(execution_options={READ_ONLY: True})
            yield session

    def activated(self, version: str, files: dict[str, str], rule_count: int) -> None:
        now = self.clock.now()
        with self.sessions() as session:
            rulesets.store_ruleset(session, version, files, rule_count, now)
            rulesets.mark_ruleset_active(session, version, now)
            session.commit()


def ensure_ruleset_stored(session: Session, manager: RulesetManager, version: str) -> None:
    """Store the full text of the ruleset `version` (that a decision names) once.

    Per-process cache: a version joins `manager.stored` only once it was found
    already stored (committed), so a rolled-back first insert is retried by the
    next claim rather than forgotten. The version is looked up among the
    manager's recent rulesets, so a claim decided just before a swap stores the
    ruleset that decided it, not the new one.
    """
    if version in manager.stored:
        return
    if rulesets.get_ruleset(session, version) is not None:
        manager.stored.add(version)
        return
    ruleset = manager.ruleset_by_version(version)
    if ruleset is None:  # cannot happen for a decision of this process; nothing to store
        log.warning("ruleset %s decided a claim but is not known here", version[:12])
        return
    rulesets.store_ruleset(session, version, ruleset.files, len(ruleset.rules), datetime.now(UTC))


def stored_ruleset(ctx: Any, version: str) -> dict[str, Any] | None:
    """A stored ruleset's full text, for audit (GET /v1/rulesets/<version>)."""
    with ctx.unit_of_work() as session:
        row = rulesets.get_ruleset(session, version)
        if row is None:
            return None
        return {
            "version": row.version,
            "rule_count": row.rule_count,
            "first_loaded_at": row.first_loaded_at.isoformat(),
            "files": row.files,
        }


def list_versions(ctx: Any, limit: int = 100) -> list[dict[str, Any]]:
    """Stored rulesets, newest first, with how many decisions name each."""
    with ctx.unit_of_work() as session:
        rows = rulesets.list_versions(session, limit)
    return [
        {"version": v, "rule_count": c, "first_loaded_at": at.isoformat(), "decisions": n}
        for v, c, at, n in rows
    ]
