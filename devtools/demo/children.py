"""The demo's child processes: `claims serve`, `claims worker`, `claims scheduler`, and the
servers it started (Redis, the mail catcher); stopped in reverse order on exit."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from devtools.localservices import Started, say


def claims_command() -> list[str]:
    beside = Path(sys.executable).parent / "claims"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("claims")
    return [found] if found else [sys.executable, "-c", "from service.cli import run; run()"]


@dataclass
class Children:
    logs: Path
    env: dict[str, str] = field(default_factory=dict)
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    services: Started = field(default_factory=Started)

    def log(self, name: str) -> Path:
        return self.logs / f"{name}.log"

    def start(self, name: str, *args: str, **extra_env: str) -> subprocess.Popen[bytes]:
        out = open(self.log(name), "ab")  # noqa: SIM115 - closed when the child ends
        proc = subprocess.Popen(
            [*claims_command(), *args],
            env={**self.env, **extra_env},
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us; we stop the children in order
        )
        self.procs[name] = proc
        return proc

    def stop(self) -> None:
        with contextlib.suppress(OSError):  # stdout may be closed already
            sys.stdout.flush()
        for name, proc in reversed(list(self.procs.items())):
            if proc.poll() is None:
                say(f"stopping {name}")
                _signal_group(proc, signal.SIGTERM)
        for proc in self.procs.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(5)
        self.services.stop()

    def tail(self, name: str, lines: int = 15) -> str:
        try:
            return "\n".join(self.log(name).read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass
