"""`claims demo run [--once]`: the whole job on one machine, end to end.

Redis (found or started), SQLite in a temp folder, migrations, then the API,
a worker and the scheduler as child processes; the sample policies and
claims go in over HTTP and a table of decisions prints. With --once it stops
everything and exits (0 when every request succeeded); otherwise it keeps the
service up until Ctrl-C.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from service.demo import localservices as local
from service.demo import samples
from service.demo.table import print_table

say = local.say
PREFERRED_PORT = 8000


@dataclass
class Demo:
    folder: Path
    env: dict[str, str]
    children: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    services: local.Started = field(default_factory=local.Started)

    def log(self, name: str) -> Path:
        return self.folder / f"{name}.log"

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        out = open(self.log(name), "ab")  # noqa: SIM115 - closed when the child ends
        proc = subprocess.Popen(
            [*claims_command(), *args],
            env=self.env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us; we stop the children in order
        )
        self.children[name] = proc
        return proc

    def stop(self) -> None:
        with contextlib.suppress(OSError):  # stdout may be closed already
            sys.stdout.flush()
        for name, proc in reversed(list(self.children.items())):
            if proc.poll() is None:
                say(f"stopping {name}")
                _signal_group(proc, signal.SIGTERM)
        for proc in self.children.values():
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                _signal_group(proc, signal.SIGKILL)
                proc.wait(5)
        self.services.stop()


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except ProcessLookupError:
        pass


def claims_command() -> list[str]:
    beside = Path(sys.executable).parent / "claims"
    if beside.exists():
        return [str(beside)]
    found = shutil.which("claims")
    return [found] if found else [sys.executable, "-c", "from service.cli import main; main()"]


def run_demo(once: bool) -> int:
    folder = Path(tempfile.mkdtemp(prefix="claims-demo-"))
    demo = Demo(folder, env={})
    _sigterm_as_interrupt()
    ok = False
    try:
        ok = _run(demo, once)
        return 0 if ok else 1
    except local.ServiceError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print()
        say("Ctrl-C: stopping everything the demo started")
        ok = True
        return 0
    finally:
        demo.stop()
        if ok:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            say(f"logs kept in {folder}")


def _run(demo: Demo, once: bool) -> bool:
    redis_url = local.ensure_redis(
        os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"), demo.services
    )
    demo.env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{demo.folder / 'claims.db'}",
        "INSTANCE_DIR": str(demo.folder),
        "REDIS_URL": redis_url,
        "LOG_FORMAT": "json",
        **_smtp_sink(demo),
    }
    say(f"database: SQLite in {demo.folder}")
    say("migrating: claims db upgrade")
    migrate = subprocess.run(
        [*claims_command(), "db", "upgrade"], env=demo.env, capture_output=True, text=True
    )
    if migrate.returncode != 0:
        print(f"error: claims db upgrade failed:\n{migrate.stdout}{migrate.stderr}".rstrip())
        return False

    credentials = _bootstrap_identities(demo)
    if credentials is None:
        return False

    port = PREFERRED_PORT if not local.port_open("127.0.0.1", PREFERRED_PORT) else 0
    if port == 0:
        port = local.free_port()
        say(f"port {PREFERRED_PORT} is taken; using {port} instead")
    base = f"http://127.0.0.1:{port}"
    say(f"starting the API (claims serve --port {port} --workers 2)")
    api = demo.start("api", "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", "2")
    for name in ("worker", "scheduler"):
        say(f"starting the {name} (claims {name})")
        demo.start(name, name)
    if not _wait_ready(base, api, demo):
        return False
    _report_background(demo)

    ok = _submit_all(base, credentials["intake_key"])
    _print_where(base, demo, credentials)
    if once:
        return ok
    say("the service stays up; press Ctrl-C to stop everything")
    while api.poll() is None:
        time.sleep(1)
    say(f"the API stopped (exit {api.returncode}); see {demo.log('api')}")
    return False


DEMO_PASSWORD = "demo-password-change-me"  # noqa: S105 - a throwaway demo database


def _bootstrap_identities(demo: Demo) -> dict[str, str] | None:
    """An intake API key for the sample submissions and console users for people."""
    say("creating an intake API key and console users (supervisor, analyst, admin)")
    created = subprocess.run(
        [*claims_command(), "apikeys", "create", "--role", "intake", "--name", "demo-portal"],
        env=demo.env,
        capture_output=True,
        text=True,
    )
    if created.returncode != 0:
        print(f"error: claims apikeys create failed:\n{created.stderr}".rstrip())
        return None
    key = created.stdout.strip().splitlines()[-1]
    for role in ("supervisor", "analyst", "admin"):
        user = subprocess.run(
            [
                *claims_command(),
                "users",
                "create",
                "--username",
                role,
                "--role",
                role,
                "--password",
                DEMO_PASSWORD,
            ],
            env=demo.env,
            capture_output=True,
            text=True,
        )
        if user.returncode != 0:
            print(f"error: claims users create failed:\n{user.stderr}".rstrip())
            return None
    return {"intake_key": key}


def _smtp_sink(demo: Demo) -> dict[str, str]:
    """A local SMTP server that accepts and drops mail, when aiosmtpd is installed."""
    try:
        import aiosmtpd  # noqa: F401
    except ImportError:
        return {}
    port = local.free_port()
    cmd = [sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink"]
    out = open(demo.log("smtp"), "ab")  # noqa: SIM115
    proc = subprocess.Popen(
        [*cmd, "-l", f"127.0.0.1:{port}"],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    demo.services.procs.append(proc)
    say(f"email: a local SMTP sink on port {port} accepts the notifications")
    return {"SMTP_HOST": "127.0.0.1", "SMTP_PORT": str(port)}


def _wait_ready(base: str, api: subprocess.Popen[bytes], demo: Demo) -> bool:
    import requests

    started = time.monotonic()
    next_note = 5.0
    while time.monotonic() - started < 90:
        if api.poll() is not None:
            print(f"error: the API exited with {api.returncode}; last lines of its log:")
            print(_tail(demo.log("api")))
            return False
        try:
            if requests.get(f"{base}/readyz", timeout=2).status_code == 200:
                say(f"API ready at {base} ({time.monotonic() - started:.1f}s)")
                return True
        except requests.RequestException:
            pass
        if time.monotonic() - started > next_note:
            say(f"waiting for {base}/readyz ... {next_note:.0f}s")
            next_note += 5
        time.sleep(0.25)
    print(f"error: {base}/readyz did not answer 200 within 90s; see {demo.log('api')}")
    return False


def _report_background(demo: Demo) -> None:
    time.sleep(1.0)
    for name in ("worker", "scheduler"):
        proc = demo.children[name]
        if proc.poll() is not None:
            say(
                f"{name} did not start (exit {proc.returncode}); continuing with the API alone. "
                f"Last line: {_tail(demo.log(name), 1)}"
            )


def _submit_all(base: str, key: str) -> bool:
    import requests

    today = datetime.now(UTC).date()
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {key}"
    failures = 0
    policies = samples.policies(today)
    say(f"loading {len(policies)} sample policies (PUT /v1/policies/<number>)")
    for policy in policies:
        resp = http.put(f"{base}/v1/policies/{policy.number}", json=policy.body, timeout=15)
        if resp.status_code not in (200, 201):
            failures += 1
            print(f"error: PUT {policy.number}: HTTP {resp.status_code} {_detail(resp)}")
    claims = samples.claims(today)
    say(f"submitting {len(claims)} sample claims (POST /v1/claims)")
    rows: list[tuple[samples.SampleClaim, int, dict[str, Any]]] = []
    for sample in claims:
        resp = http.post(f"{base}/v1/claims", json=sample.payload, timeout=30)
        body = _json(resp)
        if resp.status_code != 201:
            failures += 1
        rows.append((sample, resp.status_code, body))
    mismatches = print_table(rows)
    if mismatches:
        say(f"{mismatches} decision(s) differ from what the sample expected (marked !)")
    if failures:
        say(f"{failures} request(s) failed")
    return failures == 0


def _print_where(base: str, demo: Demo, credentials: dict[str, str]) -> None:
    import requests

    print()
    print(f"  API         {base}   (OpenAPI: {base}/openapi.json, metrics: {base}/metrics)")
    try:
        console = requests.get(f"{base}/console/", timeout=3, allow_redirects=False)
        has_console = console.status_code < 400
    except requests.RequestException:
        has_console = False
    if has_console:
        print(f"  Console     {base}/console/")
        print(f"  Sign in     supervisor / {DEMO_PASSWORD}  (also analyst, admin; same password)")
    key = credentials["intake_key"]
    print(f"  Intake key  {key}")
    print(
        f"  Try         curl -s -H 'Authorization: Bearer {key}' {base}/v1/claims?status=escalated"
    )
    print(f"  Logs        {demo.folder}/{{api,worker,scheduler}}.log")
    print()


def _json(resp: Any) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _detail(resp: Any) -> str:
    body = _json(resp)
    return str(body.get("detail") or body.get("title") or resp.text[:200])


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _sigterm_as_interrupt() -> None:
    def handler(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        pass
