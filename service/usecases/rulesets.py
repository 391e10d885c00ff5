"""The live ruleset of this process: loaded lazily, reloaded safely when the files change.

Every process (API worker, RQ worker) watches the same rules folder, so all
of them end up on the same version within RULES_WATCH_SECONDS. A new ruleset
is parsed, checked and compiled completely before one atomic swap; a broken
one is refused, the old one keeps deciding, and the refusal is kept for
GET /v1/rulesets/active and logged.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from service.rules.engine import EngineFailure, RulesEngine, RulesetError, load_ruleset

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
            self.reload(force=False, wait=False)
        return self._engine

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
        }
