"""`make demo` as a newcomer meets it: the demo runs in one "terminal" (a subprocess in a
folder of its own, with the CLI's defaults: no INSTANCE_DIR, no DATABASE_URL, no
REDIS_URL), and the README's commands run in another against the same folder.

Another program holds the demo's preferred port the whole time (a dummy HTTP server that
counts every connection): it must not see a single one. The demo's letters are read in
a real browser on the claim pages, one claimant language after another.
"""

from __future__ import annotations

import mailbox
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from email import message_from_bytes, policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from redis import Redis

from devtools.demo.ending import MARK

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
SHOTS = ROOT / "test-artifacts" / "screenshots"
LANGUAGES = ("en", "zh", "es", "et", "vi")


class Counting(ThreadingHTTPServer):
    """Another program on the port: answers anything, counts every connection."""

    connections = 0

    def verify_request(self, request, client_address):  # type: ignore[no-untyped-def]
        type(self).connections += 1
        return True


class Anything(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b'{"status": "ok"}')

    do_POST = do_PUT = do_GET  # noqa: N815

    def log_message(self, *args):  # type: ignore[no-untyped-def]
        pass


@pytest.fixture(scope="module")
def other_program() -> Iterator[Counting]:
    server = Counting(("127.0.0.1", 0), Anything)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def newcomer_env(**extra: str) -> dict[str, str]:
    """A shell with the project's .venv first on PATH and none of the service's settings."""
    env = {k: v for k, v in os.environ.items() if k not in ("INSTANCE_DIR", "DATABASE_URL")}
    env.pop("REDIS_URL", None)
    env.update(PATH=f"{BIN}:{env.get('PATH', '')}", PYTHONPATH=str(ROOT), **extra)
    return env


def demo_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "devtools.demo", "run", *args]


class Demo:
    def __init__(self, folder: Path, port: int) -> None:
        self.folder = folder
        self.lines: list[str] = []
        self.proc = subprocess.Popen(
            demo_command(),
            cwd=folder,
            env=newcomer_env(DEMO_PORT=str(port)),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def output(self) -> str:
        return "\n".join(self.lines)

    def wait_for(self, text: str, seconds: float = 120) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return
            if self.proc.poll() is not None:
                time.sleep(0.2)  # the reader thread catches up
                raise AssertionError(f"the demo exited ({self.proc.returncode}):\n{self.output}")
            time.sleep(0.2)
        raise AssertionError(f"no {text!r} within {seconds}s:\n{self.output}")

    @property
    def base(self) -> str:
        return re.search(r"API ready at (http://127\.0\.0\.1:\d+)", self.output).group(1)

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)  # Ctrl-C in its terminal
        return self.proc.wait(60)


@pytest.fixture(scope="module")
def demo(tmp_path_factory, other_program) -> Iterator[Demo]:
    folder = tmp_path_factory.mktemp("fresh-clone")
    shutil.copytree(ROOT / "rules", folder / "rules")  # the clone's own rules/, for `cp -r`
    running = Demo(folder, other_program.server_address[1])
    try:
        running.wait_for(MARK)
        yield running
    finally:
        if running.proc.poll() is None:
            assert running.stop() == 0, running.output


def claims(demo: Demo, *args: str, **extra: str) -> str:
    result = subprocess.run(
        ["claims", *args],
        cwd=demo.folder,
        env=newcomer_env(**extra),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"claims {' '.join(args)}: {result.stderr[-2000:]}"
    return result.stdout


def shell(demo: Demo, script: str) -> str:
    result = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=demo.folder,
        env=newcomer_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, f"{script}\n{result.stdout[-2000:]}{result.stderr[-2000:]}"
    return result.stdout


def readme_block(containing: str) -> str:
    """The README's ```sh block that contains this text."""
    blocks = re.findall(r"```sh\n(.*?)```", (ROOT / "README.md").read_text(), re.S)
    return next(b for b in blocks if containing in b)


def test_the_other_program_on_the_port_hears_nothing(demo, other_program):
    port = other_program.server_address[1]
    assert f"port {port} is in use by another program; the API listens on" in demo.output
    assert urlsplit(demo.base).port != port
    assert Counting.connections == 0


def test_readme_commands_work_in_another_terminal(demo):
    first = readme_block("claims apikeys create")
    keys = [line for line in first.splitlines() if line.startswith("claims apikeys create")]
    key = claims(demo, *keys[0].split("#")[0].split()[1:]).strip().splitlines()[-1]
    users = next(line for line in first.splitlines() if line.startswith("claims users create"))
    claims(demo, *users.split("#")[0].split()[1:], CLAIMS_PASSWORD="a long enough password")

    intake = readme_block("KEY=ck_live_")
    commands = intake[intake.index("curl -X PUT") : intake.index("\n# 201")]
    commands = commands.replace("http://127.0.0.1:8000", demo.base).replace("curl ", "curl -sf ")
    out = shell(demo, f"KEY={key}\n{commands}")
    assert '"external_ref": "PORTAL-4711"' in out or '"external_ref":"PORTAL-4711"' in out

    rules = readme_block("claims rules backtest")
    for line in rules.splitlines():
        if line.startswith(("cp ", "claims rules")):
            shell(demo, line.split("  #")[0])
    assert "audit trail intact" in claims(demo, "audit", "verify")
    listed = claims(demo, "apikeys", "list")
    assert "\tportal\tintake\t" in listed and "\tdemo-portal\tintake\t" in listed


def test_what_to_try_next_works(demo):
    printed = next(line.strip() for line in demo.lines if line.strip().startswith("curl -s -X"))
    decision = shell(demo, printed)
    assert '"status"' in decision and '"decision"' in decision
    for what in ("Console", "sign in: supervisor / ", "rules check", "/console/queue"):
        assert what in demo.output
    for where in ("instance/claims.db", "instance/demo/mail", "instance/demo/logs"):
        assert where in demo.output
    assert requests.get(f"{demo.base}/console/queue", timeout=5).status_code in (200, 302)


def test_redis_is_the_demos_own(demo):
    settings = dict(
        line.split("=", 1)
        for line in (demo.folder / "instance/demo/env").read_text().splitlines()
        if "=" in line and not line.startswith("#")
    )
    url = settings["REDIS_URL"]
    assert urlsplit(url).port != 6379 and "starting a private redis-server" in demo.output
    assert Redis.from_url(url).smembers("rq:workers"), "the demo's worker is registered there"


def test_a_second_demo_on_the_same_folder_stops_at_once(demo, other_program):
    port = other_program.server_address[1]
    second = subprocess.run(
        demo_command("--port", str(port)),
        cwd=demo.folder,
        env=newcomer_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert second.returncode == 1
    assert f"another demo (pid {demo.proc.pid}) is running" in second.stderr
    assert len(second.stderr.strip().splitlines()) == 1 and Counting.connections == 0


def test_a_taken_port_asked_for_stops_with_one_line(tmp_path, other_program):
    port = other_program.server_address[1]
    result = subprocess.run(
        demo_command("--once", "--port", str(port)),
        cwd=tmp_path,
        env=newcomer_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1
    assert result.stderr.strip() == (
        f"error: port {port} is in use by another program: stop it, or choose another port "
        f"with --port (make demo ARGS='--port {port + 1}')"
    )
    assert Counting.connections == 0 and not (tmp_path / "instance/claims.db").exists()


def letters_by_language(folder: Path) -> dict[str, tuple[str, int, object]]:
    """For each language: a claim, one of its claimant letters' outbox ids, and the letter
    as the mail catcher received it (matched by its Message-ID)."""
    received = {}
    for raw in mailbox.Maildir(folder / "instance/demo/mail", create=False):
        message = message_from_bytes(raw.as_bytes(), policy=policy.default)
        received[int(re.search(r"<outbox-(\d+)\.", message["Message-ID"]).group(1))] = message
    db = sqlite3.connect(folder / "instance/claims.db")
    rows = db.execute(
        "select c.preferred_language, c.id, o.id from claims c join outbox o on o.claim_id = c.id"
        " where o.channel = 'email' and o.status = 'sent' order by o.id"
    ).fetchall()
    found = {}
    for language, claim_id, outbox_id in rows:
        if language not in found and outbox_id in received:
            found[language] = (claim_id, outbox_id, received[outbox_id])
    return found


def test_the_demos_letters_are_on_the_claim_pages_in_five_languages(demo, browser_context):
    letters = letters_by_language(demo.folder)
    assert set(letters) == set(LANGUAGES)
    SHOTS.mkdir(parents=True, exist_ok=True)
    context = browser_context.new_context(viewport={"width": 1280, "height": 900})
    try:
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.goto(f"{demo.base}/console/login")
        page.get_by_label("Username").fill("supervisor")
        page.get_by_label("Password").fill("demo-password-change-me")
        page.get_by_role("button", name="Log in").click()
        page.wait_for_url(re.compile(r"/console/queue"))
        for language in LANGUAGES:
            claim_id, outbox_id, received = letters[language]
            page.goto(f"{demo.base}/console/claims/{claim_id}")
            section = page.locator("#messages")
            assert section.get_by_role("heading", name=re.compile("Messages")).is_visible()
            message = page.locator(f"#message-{outbox_id}")
            summary = message.locator("summary").first
            assert received["Subject"] in summary.inner_text()
            assert message.locator(".subject").get_attribute("lang") == language
            summary.click()
            assert "sent" in message.locator("dd").nth(3).inner_text()
            body = received.get_body(("plain",)).get_content().strip()
            frame = page.frame_locator(f"#message-{outbox_id} iframe.letter")
            first_line = body.splitlines()[0].strip()
            assert first_line in frame.locator("body").inner_text()
            message.locator("details.text-part summary").click()
            shown = message.locator("pre.letter-text").inner_text()
            assert shown.strip() == body.replace("\r\n", "\n")
            page.screenshot(path=str(SHOTS / f"demo-letter-{language}.png"), full_page=True)
    finally:
        context.close()


def test_the_data_is_there_next_time_and_fresh_starts_from_nothing(demo):
    assert demo.stop() == 0
    assert "stopping everything the demo started (the data stays)" in demo.output
    again = subprocess.run(
        demo_command("--once"),
        cwd=demo.folder,
        env=newcomer_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "24 sample claims are in the database from an earlier run" in again.stdout
    db = demo.folder / "instance/claims.db"
    with sqlite3.connect(db) as conn:
        assert conn.execute(
            "select count(*) from claims where external_ref = 'PORTAL-4711'"
        ).fetchone() == (1,)
    fresh = subprocess.run(
        demo_command("--once", "--fresh"),
        cwd=demo.folder,
        env=newcomer_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert fresh.returncode == 0, fresh.stdout + fresh.stderr
    assert "submitting 24 sample claims" in fresh.stdout
    with sqlite3.connect(db) as conn:
        assert conn.execute(
            "select count(*) from claims where external_ref = 'PORTAL-4711'"
        ).fetchone() == (0,)
