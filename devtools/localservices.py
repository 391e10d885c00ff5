"""Find or start the servers the demo and the test suite need: Redis, PostgreSQL, mail.

Developer tooling, not part of the shipped service. For the test suite
(scripts/ensure-services.py): the server already answering on its usual port,
else a private server in a temp folder on a free port, else (as root) Debian's
package installed with apt-get, else a one-line instruction. The demo uses
`start_private_redis` and `start_mail_catcher` only: servers of its own, never
one it did not start. Standard library only, and sockets for the probes, so it
runs before anything else (the mail catcher runs aiosmtpd, a dev dependency).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit


class ServiceError(RuntimeError):
    """A service could not be found or started; the message is one line for the user."""


def say(message: str) -> None:
    try:
        print(f"==> {message}", flush=True)
    except (BrokenPipeError, OSError):  # output closed (| head): keep stopping children
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_free(port: int, host: str = "127.0.0.1") -> bool:
    """True when nothing listens on the port: a bind probe, so the program that holds it
    (if any) receives nothing at all, not even a connection."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is not "taken"
        try:
            sock.bind((host, port))
        except OSError:
            return False
        return True


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def redis_answers(url: str, timeout: float = 0.5) -> bool:
    """PING over a raw socket (no client library needed)."""
    parts = urlsplit(url)
    try:
        with socket.create_connection(
            (parts.hostname or "127.0.0.1", parts.port or 6379), timeout=timeout
        ) as sock:
            if parts.password:
                sock.sendall(f"AUTH {parts.password}\r\n".encode())
                sock.recv(64)
            sock.sendall(b"PING\r\n")
            return sock.recv(64).startswith(b"+PONG")
    except OSError:
        return False


def is_root() -> bool:
    return hasattr(os, "geteuid") and os.geteuid() == 0


def apt_install(*packages: str) -> bool:
    """apt-get install as root, with visible progress; False if not possible."""
    if not is_root() or not shutil.which("apt-get"):
        return False
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    say(f"installing {' '.join(packages)} with apt-get (as root; takes a minute)")
    steps = (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *packages])
    for cmd in steps:
        if subprocess.run(cmd, env=env, stdout=sys.stderr).returncode != 0:
            say(f"apt-get failed: {' '.join(cmd)}")
            return False
    return True


@dataclass
class Started:
    """Servers this process started; `stop()` ends exactly those."""

    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)
    cleanups: list[list[str]] = field(default_factory=list)
    dirs: list[str] = field(default_factory=list)

    def stop(self) -> None:
        for cmd in self.cleanups:
            subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for proc in self.procs:
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        for folder in self.dirs:
            shutil.rmtree(folder, ignore_errors=True)


# --- Redis ------------------------------------------------------------------------


def ensure_redis(url: str, started: Started) -> str:
    """The Redis at `url` if it answers, else a private one (the test suite's order)."""
    if redis_answers(url):
        say(f"Redis: using the one at {url}")
        return url
    say(f"Redis: nothing at {url}")
    folder = tempfile.mkdtemp(prefix="claims-redis-")
    started.dirs.append(folder)  # removed when stopped
    return start_private_redis(Path(folder), started)


def redis_binary() -> str:
    binary = shutil.which("redis-server")
    if binary is None and apt_install("redis-server"):
        binary = shutil.which("redis-server") or (
            "/usr/bin/redis-server" if os.path.exists("/usr/bin/redis-server") else None
        )
    if binary is None:
        raise ServiceError(
            "redis-server is not installed: install it (sudo apt-get install redis-server) "
            "or set REDIS_URL to a Redis of your own"
        )
    return binary


def start_private_redis(folder: Path, started: Started, log: Path | None = None) -> str:
    """A redis-server of our own on a free loopback port, nothing saved to disk; stopped
    with `started`. Returns its URL (database 0 of a server no one else uses)."""
    binary = redis_binary()
    folder.mkdir(parents=True, exist_ok=True)
    log = log or folder / "redis.log"
    port = free_port()
    say(f"Redis: starting a private redis-server on port {port} (log {log})")
    cmd = [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)]
    cmd += ["--save", "", "--appendonly", "no", "--daemonize", "no"]
    out = open(log, "ab")  # noqa: SIM115 - lives as long as redis
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    started.procs.append(proc)
    private = f"redis://127.0.0.1:{port}/0"
    for _ in range(100):
        if redis_answers(private):
            return private
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise ServiceError(f"the private redis-server did not start; see {log}")


# --- Mail ---------------------------------------------------------------------------


def start_mail_catcher(maildir: Path, log: Path, started: Started) -> int:
    """aiosmtpd on a free loopback port, keeping every message it receives in `maildir`
    (a Maildir: one file per message, readable by any mail program); returns the port."""
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        raise ServiceError(
            "aiosmtpd is not installed (a dev dependency): run make venv, or "
            "pip install -e '.[dev]'"
        ) from None
    for part in ("tmp", "new", "cur"):  # a Maildir, even when the folder exists already
        (maildir / part).mkdir(parents=True, exist_ok=True)
    port = free_port()
    cmd = [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}"]
    cmd += ["-c", "aiosmtpd.handlers.Mailbox", str(maildir)]
    out = open(log, "ab")  # noqa: SIM115 - lives as long as the catcher
    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    started.procs.append(proc)
    for _ in range(100):
        if port_open("127.0.0.1", port, 0.2):
            return port
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    raise ServiceError(f"the mail catcher did not start; see {log}")


# --- PostgreSQL -----------------------------------------------------------------------


def _psql_ok(port: int, database: str = "test") -> bool:
    if not shutil.which("psql"):
        return port_open("127.0.0.1", port)
    cmd = [
        "psql",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-U",
        "postgres",
        "-d",
        database,
        "-tAc",
        "select 1",
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=15)
    return result.returncode == 0


def _create_test_db(port: int) -> None:
    if shutil.which("createdb"):
        subprocess.run(
            ["createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "test"],
            capture_output=True,
        )


def _pg_url(port: int) -> str:
    return f"postgresql://postgres@127.0.0.1:{port}/test"


def ensure_postgres(started: Started) -> str:
    if port_open("127.0.0.1", 5432):
        if not _psql_ok(5432):
            _create_test_db(5432)
        if _psql_ok(5432):
            say("PostgreSQL: using the one at 127.0.0.1:5432 (user postgres, database test)")
            return _pg_url(5432)
        raise ServiceError(
            "PostgreSQL answers on 5432 but not as user postgres to database "
            "test: allow it (trust auth) or set TEST_DATABASE_URL"
        )
    if is_root() and _start_system_cluster():
        return _pg_url(5432)
    bindir = _pg_bindir()
    if bindir is None and apt_install("postgresql"):
        if _start_system_cluster():
            return _pg_url(5432)
        bindir = _pg_bindir()
    if bindir is None:
        raise ServiceError(
            "PostgreSQL is not answering on 127.0.0.1:5432 and is not installed: "
            "install it (sudo apt-get install postgresql) or set TEST_DATABASE_URL"
        )
    return _start_private_postgres(bindir, started)


def _pg_bindir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return str(Path(found[-1]).parent) if found else None


def _start_system_cluster() -> bool:
    """Debian's cluster (the way these machines start it), when one is set up."""
    versions = sorted(os.listdir("/etc/postgresql")) if os.path.isdir("/etc/postgresql") else []
    if not versions or not shutil.which("pg_ctlcluster"):
        return False
    say(f"PostgreSQL: starting the system cluster {versions[-1]}/main")
    cmd = ["pg_ctlcluster", "--skip-systemctl-redirect", versions[-1], "main", "start"]
    subprocess.run(cmd, capture_output=True)
    for _ in range(50):
        if port_open("127.0.0.1", 5432):
            break
        time.sleep(0.2)
    if not _psql_ok(5432):
        _create_test_db(5432)
    return _psql_ok(5432)


def _start_private_postgres(bindir: str, started: Started) -> str:
    folder = tempfile.mkdtemp(prefix="claims-pg-")
    port = free_port()
    say(f"PostgreSQL: starting a private server from {bindir} on port {port}")
    runas: list[str] = []
    if is_root():  # initdb refuses to run as root
        shutil.chown(folder, "postgres")
        runas = ["runuser", "-u", "postgres", "--"]
    data = f"{folder}/data"
    subprocess.run(
        [*runas, f"{bindir}/initdb", "-D", data, "-U", "postgres", "-A", "trust"],
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off"
    subprocess.run(
        [
            *runas,
            f"{bindir}/pg_ctl",
            "-D",
            data,
            "-l",
            f"{folder}/pg.log",
            "-o",
            options,
            "-w",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    started.cleanups.append([*runas, f"{bindir}/pg_ctl", "-D", data, "-m", "fast", "stop"])
    started.dirs.append(folder)
    subprocess.run(
        [f"{bindir}/createdb", "-h", "127.0.0.1", "-p", str(port), "-U", "postgres", "test"],
        check=True,
        capture_output=True,
    )
    return _pg_url(port)


# --- Chromium (for the browser tests) ----------------------------------------------


def ensure_chromium() -> None:
    if shutil.which("chromium") or os.path.exists("/usr/bin/chromium"):
        return
    if not apt_install("chromium"):
        say("Chromium: not installed and cannot install it here; browser tests will skip")
