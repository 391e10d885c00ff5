"""The live ruleset of a process: loaded lazily, reloaded safely, the same on the whole host.

- **Start.** The first call to `engine()` (after gunicorn forks) loads the rules folder.
  If the folder has problems, the process decides with the last version that was
  active, read back from the database (`RulesetStore.last_active`), and says so:
  `status()["source"] == "database"`, `folder_error` holds the folder's problems, and
  an error is logged. Only with no stored version either is there no ruleset (claims
  are answered 503 by the API; `status()` still answers).
- **Candidates.** A folder nobody has checked yet is checked and compiled first in a
  child process with a time and memory budget (`sandbox.verify`); only then is it built
  here. A refusal leaves the old ruleset deciding and fills `last_error`. Refusals are
  kept on the host by content, so a process that starts later (a worker replacing a
  crashed one) or the watch decides with the last active version instead of loading a
  refused folder; only POST /v1/rulesets/reload checks a refusal for time, memory or a
  crash again. A reload by a process that had not loaded its rules yet checks the
  folder once, not twice.
- **Reload on the host.** A successful reload (POST /v1/rulesets/reload, or the watch
  noticing an edit) records the version as active in the database and writes the host
  marker (`host.HostState`). Every process checks the marker on each `engine()` call
  (a stat) and from a background thread every 0.1 s, and switches to the version it
  names; `wait_for_switch` counts the processes that have.
- **Watch.** Every `watch_seconds` the background thread compares the folder's
  fingerprint (name, size, mtime of each file) and reloads when it changed.

A swap compiles the new version outside the engine lock and switches under it; a
request in flight finishes with the rules it started with.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol, TypeVar

from service.rules import sandbox
from service.rules.checker import read_folder
from service.rules.engine import (
    EngineFailure,
    RulesEngine,
    Ruleset,
    RulesetError,
    build_ruleset,
    version_of,
)
from service.rules.host import HostState, MarkerKey, folder_key
from service.rules.limits import Limits
from service.rules.loader import Problem, rule_files

log = logging.getLogger(__name__)
T = TypeVar("T")
Fingerprint = tuple[tuple[str, int, int], ...]
POLL_SECONDS = 0.1  # how often the background thread looks at the host marker
SWITCH_WAIT_SECONDS = 1.0  # how long a reload waits for the host's other processes


class RulesetStore(Protocol):
    """Where versions are kept for good (the database; see usecases/rulesets.py)."""

    def last_active(self) -> tuple[str, dict[str, str]] | None:
        """(version, files) of the version most recently active anywhere."""

    def files_of(self, version: str) -> dict[str, str] | None: ...

    def activated(self, version: str, files: dict[str, str], rule_count: int) -> None:
        """Keep the version's text (once) and note that it is active from now."""


class NoStore:
    def last_active(self) -> tuple[str, dict[str, str]] | None:
        return None

    def files_of(self, version: str) -> dict[str, str] | None:
        return None

    def activated(self, version: str, files: dict[str, str], rule_count: int) -> None:
        return None


class RulesUnavailable(EngineFailure):
    """No ruleset at all: the folder has problems and no version is stored."""


@dataclass(frozen=True)
class ReloadResult:
    changed: bool
    version: str | None
    error: str | None = None


def fingerprint(folder: Path) -> Fingerprint:
    """Cheap change detection: name, size and mtime of every rule file the loader reads."""
    entries = []
    try:
        paths = rule_files(folder, 10_001) if folder.is_dir() else []
    except OSError:
        paths = []
    for path in paths:
        try:
            stat = path.stat()
        except OSError:
            continue
        entries.append((path.relative_to(folder).as_posix(), stat.st_size, stat.st_mtime_ns))
    return tuple(entries)


def _text(problems: list[Problem]) -> str:
    return "\n".join(str(p) for p in problems)


_MANAGERS: weakref.WeakSet[RulesetManager] = weakref.WeakSet()


class RulesetManager:
    def __init__(
        self,
        folder: Path,
        watch_seconds: float = 2.0,
        on_reload: Callable[[str], None] | None = None,
        *,
        limits: Limits | None = None,
        store: RulesetStore | None = None,
        state_dir: Path | None = None,
        verify: bool = True,
    ) -> None:
        """`state_dir`: the host's shared folder (None: this process alone); `verify`:
        check candidates in a budgeted child process first (False: here, for tools)."""
        self.folder = Path(folder)
        self.watch_seconds = watch_seconds
        self.on_reload = on_reload or (lambda result: None)
        self.limits = limits or Limits()
        self.store: RulesetStore = store or NoStore()
        self.host = HostState(Path(state_dir) / folder_key(self.folder)) if state_dir else None
        self.verify = verify
        self._engine: RulesEngine | None = None
        self._fingerprint: Fingerprint = ()
        self._checked_at = 0.0
        self._marker_seen: MarkerKey = None
        self._lock = threading.Lock()
        self.loaded_at: datetime | None = None
        self.source: str | None = None  # folder | database
        self.folder_error: str | None = None
        self.last_error: str | None = None
        self.last_error_at: datetime | None = None
        self.reloads = 0
        self.stored: set[str] = set()  # versions known to be in the rulesets table
        self._recent: dict[str, Ruleset] = {}  # the last few active rulesets, by version
        self._to_record: Ruleset | None = None  # loaded at start, not yet in the database
        self._record_lock = threading.Lock()  # lock order: _lock, then _record_lock
        self._follower: threading.Thread | None = None
        self._follower_pid = 0
        _MANAGERS.add(self)

    # --- deciding -------------------------------------------------------------------

    def engine(self) -> RulesEngine:
        """The engine to decide with; RulesUnavailable when there is no ruleset at all."""
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._start()
        else:
            self._follow_host()
        self._ensure_follower()
        assert self._engine is not None
        return self._engine

    def _start(self) -> None:
        if self.host is not None:
            self._marker_seen = self.host.marker_key()  # only later changes are followed
        self._fingerprint = fingerprint(self.folder)
        self._checked_at = time.monotonic()
        try:
            ruleset, error = self._from_folder()
        except Exception as exc:  # noqa: BLE001 - an unreadable folder: the last active decides
            log.exception("loading the rules folder failed")
            ruleset, error = None, f"{self.folder}:1:1: could not load: {type(exc).__name__}"
        if ruleset is not None:
            self._install(ruleset, "folder")
            earlier = self._host_call(self.host.read_outcome) if self.host is not None else None
            if earlier and earlier.get("error"):
                self._error(None)  # the folder loads now: an older refusal is over
            # recorded by the background thread: the caller may be inside a transaction
            # (on SQLite a second writer would wait for it), and deciding needs no record
            self._to_record = ruleset
            return
        self.folder_error = error
        self._error(error)
        ruleset = self._last_active()
        if ruleset is None:
            raise RulesUnavailable("no ruleset: the rules folder has problems and none is stored")
        self._install(ruleset, "database")
        log.error(
            "rules folder has problems; deciding with the last active version %s from the database",
            ruleset.version[:12],
            extra={"ruleset_version": ruleset.version, "problems": error.splitlines()[:20]},
        )

    def _from_folder(self, retry: bool = False) -> tuple[Ruleset | None, str]:
        """The folder's ruleset, verified in the sandbox first; else (None, problems).
        `retry`: check again a version refused for time, memory or a crash."""
        files, problems = read_folder(self.folder, self.limits)
        if not problems and self.verify:
            cache = self.host.verdicts if self.host is not None else None
            problems = sandbox.verify(files, self.limits, self.folder.name, cache, retry=retry)
        if problems:
            return None, _text(problems)
        try:
            return build_ruleset(files, self.limits), ""
        except RulesetError as exc:
            return None, str(exc)

    def _last_active(self) -> Ruleset | None:
        try:
            found = self.store.last_active()
        except Exception:  # noqa: BLE001 - the database may be down too; logged
            log.exception("could not read the last active ruleset from the database")
            return None
        return None if found is None else self._build_trusted(found[0], found[1])

    def _build_trusted(self, version: str, files: dict[str, str]) -> Ruleset | None:
        """A version that was active before (verified then): built here, no sandbox."""
        try:
            ruleset = build_ruleset(files, self.limits)
        except RulesetError as exc:
            log.error("stored ruleset %s no longer loads: %s", version[:12], exc)
            return None
        if ruleset.version != version:
            log.error("stored ruleset %s does not match its text", version[:12])
            return None
        return ruleset

    def _install(self, ruleset: Ruleset, source: str) -> None:
        """Make `ruleset` the one deciding (compile outside the engine lock, swap under it)."""
        self._remember(ruleset)
        with self._record_lock:  # a version replaced before it was recorded stays unrecorded
            self._to_record = None
        if self._engine is None:
            self._engine = RulesEngine(ruleset)
        else:
            self._engine.swap(ruleset)
        self.loaded_at = datetime.now(UTC)
        self.source = source
        if source == "folder":
            self.folder_error = None
        if self.host is not None:
            self._host_call(self.host.report, ruleset.version)

    def _record_pending(self) -> None:
        with self._record_lock:
            ruleset, self._to_record = self._to_record, None
            if ruleset is not None:
                self._activated(ruleset)

    def _publish(self, ruleset: Ruleset) -> None:
        """Record the version as active (database) and switch the host to it (marker)."""
        with self._record_lock:  # after any record of the version it replaces
            self._to_record = None
            self._activated(ruleset)
        if self.host is not None:
            self._host_call(self.host.publish, ruleset.version)
            self._marker_seen = self.host.marker_key()

    def _activated(self, ruleset: Ruleset) -> None:
        try:
            self.store.activated(ruleset.version, dict(ruleset.files), len(ruleset.rules))
        except Exception:  # noqa: BLE001 - deciding goes on; the next reload records it
            log.exception("could not record the active ruleset in the database")

    # --- following the host ---------------------------------------------------------

    def _follow_host(self) -> None:
        """Switch to the version the host marker names, if it changed (one stat if not)."""
        if self.host is None or self.host.marker_key() == self._marker_seen:
            return
        with self._lock:
            key, version = self.host.read_marker()
            if key == self._marker_seen:
                return
            self._marker_seen = key
            if version is None or self._engine is None or version == self._engine.ruleset.version:
                return
            ruleset, source = self._version(version)
            if ruleset is None:
                log.error("ruleset %s named by the host marker cannot be loaded", version[:12])
                return
            try:
                self._install(ruleset, source)
            except EngineFailure:
                log.exception("ruleset %s named by the host marker failed", version[:12])
                return
            self.reloads += 1
            log.info("ruleset switched with the host", extra={"ruleset_version": version})

    def _version(self, version: str) -> tuple[Ruleset | None, str]:
        """A version another process verified: from memory, the folder or the database."""
        if version in self._recent:
            return self._recent[version], "folder"
        files, problems = read_folder(self.folder, self.limits)
        if not problems and version_of(files) == version:
            return self._build_trusted(version, files), "folder"
        try:
            stored = self.store.files_of(version)
        except Exception:  # noqa: BLE001 - logged; the marker is looked at again on change
            log.exception("could not read ruleset %s from the database", version[:12])
            stored = None
        return (self._build_trusted(version, stored) if stored else None), "database"

    def wait_for_switch(
        self, version: str, timeout: float = SWITCH_WAIT_SECONDS
    ) -> dict[str, int] | None:
        """{"switched": n, "processes": m} for this host once all have switched, or at the
        timeout; None when processes do not share a host folder (unknown)."""
        if self.host is None:
            return None
        deadline = time.monotonic() + timeout
        while True:
            seen = self._host_call(self.host.processes) or {}
            switched = sum(1 for versions in seen.values() if versions == {version})
            if switched == len(seen) or time.monotonic() >= deadline:
                return {"switched": switched, "processes": len(seen)}
            time.sleep(0.02)

    def _host_call(self, call: Callable[..., T], *args: object) -> T | None:
        try:
            return call(*args)
        except OSError as exc:  # the instance folder is not writable: no host sharing
            log.warning("rules host folder %s: %s", self.host.root if self.host else "", exc)
            return None

    # --- the background thread: host marker and folder watch -----------------------

    def _ensure_follower(self) -> None:
        if self.host is None and not self.watch_seconds:
            self._record_pending()  # no background thread here (tools): record it now
            return
        follower = self._follower
        if follower is not None and follower.is_alive() and self._follower_pid == os.getpid():
            return
        self._follower_pid = os.getpid()
        self._follower = threading.Thread(
            target=_follow, args=(weakref.ref(self),), name="rules-follow", daemon=True
        )
        self._follower.start()

    def _tick(self) -> None:
        self._record_pending()
        self._follow_host()
        due = self.watch_seconds and time.monotonic() - self._checked_at >= self.watch_seconds
        if due:
            self.reload(force=False, wait=False)

    # --- reload -----------------------------------------------------------------------

    def reload(self, force: bool = True, wait: bool = True) -> ReloadResult:
        """Load the folder again if it changed (or always, when forced; a forced reload
        also checks again a version refused for time, memory or a crash)."""
        just_started = self._engine is None
        if just_started:
            try:
                self.engine()
            except EngineFailure:
                pass  # no ruleset yet: the folder below may bring one
        if not self._lock.acquire(blocking=wait):
            return ReloadResult(False, self._version_now())  # another thread is at it
        try:
            self._checked_at = time.monotonic()
            current = fingerprint(self.folder)
            if current == self._fingerprint and not force:
                return ReloadResult(False, self._version_now(), self.last_error)
            self._fingerprint = current
            try:
                # a process that has just started checked this folder a moment ago
                ruleset, error = self._from_folder(retry=force and not just_started)
            except Exception as exc:  # noqa: BLE001 - never a 500 or a dead watch
                log.exception("loading the rules folder failed")
                ruleset, error = None, f"{self.folder}:1:1: could not load: {type(exc).__name__}"
            if ruleset is None:
                return self._refused(error or f"{self.folder}:1:1: refused")
            self._error(None)
            if ruleset.version == self._version_now():  # the same text: nothing to swap
                self.source, self.folder_error = "folder", None
                if force:  # say it again, so every process of the host is on it
                    self._publish(ruleset)
                return ReloadResult(False, ruleset.version)
            try:
                self._install(ruleset, "folder")
            except EngineFailure as exc:
                return self._refused(f"{self.folder}:1:1: engine refused the ruleset: {exc}")
            except Exception as exc:  # noqa: BLE001 - never a 500: the old rules decide
                log.exception("installing the ruleset failed")
                return self._refused(f"{self.folder}:1:1: could not load: {type(exc).__name__}")
            self.reloads += 1
            self._publish(ruleset)
            log.info("ruleset reloaded", extra={"ruleset_version": ruleset.version})
            self.on_reload("ok")
            return ReloadResult(True, ruleset.version)
        finally:
            self._lock.release()

    def _version_now(self) -> str | None:
        return self._engine.ruleset.version if self._engine is not None else None

    def _error(self, message: str | None) -> None:
        """Note the outcome of a load of the folder: its problems, or None when it loaded.
        With a host folder it is the host's (`status()` of every process shows it)."""
        self.last_error = message
        self.last_error_at = datetime.now(UTC) if message else None
        if self.host is not None:
            at = datetime.now(UTC).isoformat()
            self._host_call(self.host.record_outcome, message, at)

    def _refused(self, message: str) -> ReloadResult:
        self._error(message)
        version = self._version_now()
        log.error(
            "ruleset refused; still deciding with %s",
            version[:12] if version else "nothing",
            extra={"problems": message.splitlines()[:20]},
        )
        self.on_reload("refused")
        return ReloadResult(False, version, message)

    def _remember(self, ruleset: Ruleset) -> Ruleset:
        self._recent[ruleset.version] = ruleset
        while len(self._recent) > 4:
            self._recent.pop(next(iter(self._recent)))
        return ruleset

    def ruleset_by_version(self, version: str) -> Ruleset | None:
        """The active ruleset or one active a moment ago (a claim may straddle a swap)."""
        return self._recent.get(version)

    def status(self) -> dict[str, object]:
        """What this process decides with; answers even when there is no ruleset."""
        try:
            ruleset: Ruleset | None = self.engine().ruleset
        except Exception:  # noqa: BLE001 - GET /v1/rulesets/active must always answer
            log.exception("no ruleset to report")
            ruleset = None
        last_error, last_error_at, scope = self.last_error, self.last_error_at, "process"
        outcome = self._host_call(self.host.read_outcome) if self.host is not None else None
        if outcome is not None:  # the host's last reload, whichever process made it
            error, at = outcome.get("error"), outcome.get("at")
            last_error = error if isinstance(error, str) else None
            last_error_at = (
                datetime.fromisoformat(at) if last_error and isinstance(at, str) else None
            )
            scope = "host"
        return {
            "version": ruleset.version if ruleset else None,
            "source": self.source if ruleset else "none",
            "folder_error": self.folder_error,
            "loaded_at": self.loaded_at.isoformat() if self.loaded_at else None,
            "rule_count": len(ruleset.rules) if ruleset else 0,
            "files": sorted(ruleset.files) if ruleset else [],
            "folder": str(self.folder),
            "last_error": last_error,
            "last_error_at": last_error_at.isoformat() if last_error_at else None,
            "last_error_scope": scope,
            "reloads": self.reloads,
            "watch_seconds": self.watch_seconds,
            "pid": os.getpid(),
        }


def _follow(ref: weakref.ref[RulesetManager]) -> None:
    """The background thread's loop; ends when its manager is gone (or after a fork)."""
    pid = os.getpid()
    while True:
        manager = ref()
        if manager is None or manager._follower_pid != pid:
            return
        try:
            manager._tick()
        except Exception:  # noqa: BLE001 - a failed look must not end the thread; logged
            log.exception("following the rules folder failed")
        del manager
        time.sleep(POLL_SECONDS)


def _after_fork() -> None:  # a lock held by another thread at fork time would never open
    for manager in list(_MANAGERS):
        manager._lock = threading.Lock()
        manager._record_lock = threading.Lock()
        manager._follower = None


os.register_at_fork(after_in_child=_after_fork)
