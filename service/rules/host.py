"""What the processes of one host share about a rules folder: small files, no server.

`<instance>/rulesets/<folder key>/` holds
- `active.json`: the version the last successful reload (or watched edit) switched to.
  Each process stats it on every request (about a microsecond) and from a background
  thread every 0.1 s; when it changes and names another version, the process switches.
- `processes/<pid>.<n>`: the version each live rules manager of each process decides with
  (removed with the manager), so a reload can say how many processes have switched.
- `verdicts/`: the sandbox's verdict per candidate content, so a version is checked
  once per host, not once per process.
- `outcome.json`: the last reload or check of the folder by any process of the host (its
  problems, or none): `last_error` in every process's status is this one, host-wide.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import weakref
from pathlib import Path

MarkerKey = tuple[int, int, int] | None
_serials = itertools.count(1)  # one report file per rules manager of a process


def folder_key(folder: Path) -> str:
    return hashlib.sha256(str(Path(folder).resolve()).encode()).hexdigest()[:16]


class HostState:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.marker = self.root / "active.json"
        self.verdicts = self.root / "verdicts"
        self.outcome = self.root / "outcome.json"
        self._processes = self.root / "processes"
        self._serial = next(_serials)
        self._reported: Path | None = None

    def marker_key(self) -> MarkerKey:
        """Changes whenever the marker is written (a new file replaces it)."""
        try:
            st = os.stat(self.marker)
        except OSError:
            return None
        return (st.st_mtime_ns, st.st_size, st.st_ino)

    def read_marker(self) -> tuple[MarkerKey, str | None]:
        key = self.marker_key()
        try:
            data = json.loads(self.marker.read_text(encoding="utf-8"))
            version = data.get("version") if isinstance(data, dict) else None
        except (OSError, ValueError):
            return key, None
        return key, version if isinstance(version, str) else None

    def publish(self, version: str) -> None:
        """Tell every process of the host to decide with `version` from now on."""
        _write(self.marker, json.dumps({"version": version, "pid": os.getpid()}))

    def report(self, version: str) -> None:
        """The manager owning this object decides with `version` now (removed with it)."""
        path = self._processes / f"{os.getpid()}.{self._serial}"
        _write(path, version)
        if self._reported != path:
            self._reported = path
            weakref.finalize(self, _unlink, path, os.getpid())  # also at exit

    def record_outcome(self, error: str | None, at: str) -> None:
        """The last reload or check of the folder on this host: its problems, or None."""
        _write(self.outcome, json.dumps({"error": error, "at": at, "pid": os.getpid()}))

    def read_outcome(self) -> dict[str, object] | None:
        try:
            data = json.loads(self.outcome.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def processes(self) -> dict[int, set[str]]:
        """The versions of the live rule managers of each live process (dead ones forgotten)."""
        found: dict[int, set[str]] = {}
        try:
            entries = list(self._processes.iterdir())
        except OSError:
            return found
        for entry in entries:
            pid_text, _, serial = entry.name.partition(".")
            if not (pid_text.isdigit() and serial.isdigit()):
                continue
            pid = int(pid_text)
            if not _alive(pid):
                _unlink(entry, None)
                continue
            with contextlib.suppress(OSError):
                found.setdefault(pid, set()).add(entry.read_text(encoding="utf-8").strip())
        return found


def _unlink(path: Path, pid: int | None) -> None:
    if pid is None or pid == os.getpid():  # never a file a forked child inherited
        with contextlib.suppress(OSError):
            path.unlink()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _write(path: Path, text: str) -> None:
    """Write atomically (readers see the old file or the new one, never half of one)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
