"""The live ruleset of this process: loaded lazily, reloaded safely when the files change.

Every process (API worker, RQ worker) watches the same rules folder, so all
of them end up on the same version within RULES_WATCH_SECONDS. A new ruleset
is parsed, checked and compiled completely before one atomic swap; a broken
one is refused, the old one keeps deciding, and the refusal is kept for
GET /v1/rulesets/active and logged.

The watch never compiles on a request's time: a request that notices a change
starts a short-lived background thread that loads and swaps, and goes on with
the current rules; the only wait any request can see is the swap itself.
`ensure_ruleset_stored` keeps each ruleset's full text once, by version, for audit.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from service.db import rulesets
from service.rules.engine import (
    EngineFailure,
    RulesEngine,
    Ruleset,
    RulesetError,
    load_ruleset,
)
from service.rules.loader import rule_files

log = logging.getLogger(__name__)
Fingerprint = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class ReloadResult:
    changed: bool
    version: str
    error: str | None = None


def fingerprint(folder: Path) -> Fingerprint:
    """Cheap change detection: name, size and mtime of every rule file the loader reads."""
    entries = []
    try:
        paths = rule_files(folder) if folder.is_dir() else []
    except OSError:
        paths = []
    for path in paths:
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        entries.append((path.relative_to(folder).as_posix(), stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


class RulesetManager:
    def __init__(
        self,
        folder: Path,
        watch_seconds: float = 2.0,
        on_reload: Callable[[str], None] | None = None,
    ) -> None:
        self.folder = Path(folder)
        self.watch_seconds = watch_seconds
        self.on_reload = on_reload or (lambda result: None)
        self._engine: RulesEngine | None = None
        self._fingerprint: Fingerprint = ()
        self._checked_at = 0.0
        self._lock = threading.Lock()
        self.loaded_at: datetime | None = None
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.reloads = 0
        self.stored: set[str] = set()  # versions known to be in the rulesets table
        self._recent: dict[str, Ruleset] = {}  # the last few active rulesets, by version
        self._watcher: threading.Thread | None = None

    def engine(self) -> RulesEngine:
        """The engine to decide with; looks at the folder at most every watch_seconds."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._fingerprint = fingerprint(self.folder)
                    self._engine = RulesEngine(self._remember(load_ruleset(self.folder)))
                    self.loaded_at = datetime.now(UTC)
                    self._checked_at = time.monotonic()
        elif self.watch_seconds and time.monotonic() - self._checked_at >= self.watch_seconds:
            self._check_in_background()
        return self._engine

    def _check_in_background(self) -> None:
        """Look at the folder (and reload) on a short-lived thread, never on the request's."""
        watcher = self._watcher
        if watcher is not None and watcher.is_alive():
            return
        self._checked_at = time.monotonic()  # one thread per interval, however many callers
        self._watcher = threading.Thread(
            target=self._background_reload, name="rules-reload", daemon=True
        )
        self._watcher.start()

    def _background_reload(self) -> None:
        try:
            self.reload(force=False, wait=False)
        except Exception:  # noqa: BLE001 - a failed look must not kill anything; logged
            log.exception("looking for edited rule files failed")

    def reload(self, force: bool = True, wait: bool = True) -> ReloadResult:
        """Load the folder again if it changed (or always, when forced)."""
        engine = self.engine() if self._engine is None else self._engine
        if not self._lock.acquire(blocking=wait):
            return ReloadResult(False, engine.ruleset.version)  # another thread is at it
        try:
            self._checked_at = time.monotonic()
            current = fingerprint(self.folder)
            if current == self._fingerprint and not force:
                return ReloadResult(False, engine.ruleset.version, self.last_error)
            self._fingerprint = current
            try:
                candidate = load_ruleset(self.folder)
            except (RulesetError, OSError) as exc:
                return self._refused(engine, str(exc))
            if candidate.version == engine.ruleset.version:
                self.last_error = None
                return ReloadResult(False, candidate.version)
            try:
                engine.swap(self._remember(candidate))
            except EngineFailure as exc:
                return self._refused(engine, f"engine refused the ruleset: {exc}")
            self.loaded_at = datetime.now(UTC)
            self.last_error = None
            self.reloads += 1
            log.info("ruleset reloaded", extra={"ruleset_version": candidate.version})
            self.on_reload("ok")
            return ReloadResult(True, candidate.version)
        finally:
            self._lock.release()

    def _remember(self, ruleset: Ruleset) -> Ruleset:
        self._recent[ruleset.version] = ruleset
        while len(self._recent) > 4:
            self._recent.pop(next(iter(self._recent)))
        return ruleset

    def ruleset_by_version(self, version: str) -> Ruleset | None:
        """The active ruleset or one active a moment ago (a claim may straddle a swap)."""
        return self._recent.get(version)

    def _refused(self, engine: RulesEngine, message: str) -> ReloadResult:
        self.last_error = message
        self.last_error_at = datetime.now(UTC)
        log.error(
            "ruleset refused; still deciding with %s",
            engine.ruleset.version[:12],
            extra={"problems": message.splitlines()[:20]},
        )
        self.on_reload("refused")
        return ReloadResult(False, engine.ruleset.version, message)

    def status(self) -> dict[str, object]:
        ruleset = self.engine().ruleset
        return {
            "version": ruleset.version,
            "loaded_at": self.loaded_at.isoformat() if self.loaded_at else None,
            "rule_count": len(ruleset.rules),
            "files": sorted(ruleset.files),
            "folder": str(self.folder),
            "last_error": self.last_error,
            "last_error_at": self.last_error_at.isoformat() if self.last_error_at else None,
            "reloads": self.reloads,
            "watch_seconds": self.watch_seconds,
            "pid": os.getpid(),
        }


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
    from sqlalchemy import func, select

    from service.db.tables import DecisionRow, RulesetRow

    with ctx.unit_of_work() as session:
        used = (
            select(DecisionRow.ruleset_version, func.count().label("n"))
            .group_by(DecisionRow.ruleset_version)
            .subquery()
        )
        rows = session.execute(
            select(RulesetRow.version, RulesetRow.rule_count, RulesetRow.first_loaded_at, used.c.n)
            .outerjoin(used, used.c.ruleset_version == RulesetRow.version)
            .order_by(RulesetRow.first_loaded_at.desc())
            .limit(limit)
        ).all()
    return [
        {"version": v, "rule_count": c, "first_loaded_at": at.isoformat(), "decisions": int(n or 0)}
        for v, c, at, n in rows
    ]
