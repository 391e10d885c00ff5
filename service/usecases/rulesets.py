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

from sqlalchemy.orm import Session

import service.db.analysis_tables  # noqa: F401 - registers the analysis tables on Base
from service.db import repository as repo
from service.rules.engine import (
    EngineFailure,
    RulesEngine,
    Ruleset,
    RulesetError,
    load_ruleset,
)

log = logging.getLogger(__name__)
Fingerprint = tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class ReloadResult:
    changed: bool
    version: str
    error: str | None = None


def fingerprint(folder: Path) -> Fingerprint:
    """Cheap change detection: name, size and mtime of every rule file."""
    entries = []
    for path in sorted(folder.glob("*.y*ml")):
        try:
            stat = path.stat()
        except FileNotFoundError:
            continue
        entries.append((path.name, stat.st_size, stat.st_mtime_ns))
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
        self._watcher: threading.Thread | None = None

    def engine(self) -> RulesEngine:
        """The engine to decide with; looks at the folder at most every watch_seconds."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._fingerprint = fingerprint(self.folder)
                    self._engine = RulesEngine(load_ruleset(self.folder))
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
                engine.swap(candidate)
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


def ensure_ruleset_stored(session: Session, ruleset: Ruleset, known: set[str]) -> None:
    """Store the ruleset's full text once by version; `known` caches what is stored.

    A version joins `known` only once it was found already stored (committed), so a
    rolled-back first insert is retried by the next claim rather than forgotten.
    """
    if ruleset.version in known:
        return
    if repo.get_ruleset(session, ruleset.version) is not None:
        known.add(ruleset.version)
        return
    repo.store_ruleset(
        session, ruleset.version, ruleset.files, len(ruleset.rules), datetime.now(UTC)
    )
