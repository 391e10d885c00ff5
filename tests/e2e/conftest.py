"""Real processes: `claims serve` on a free port, driven over HTTP."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
CLAIMS = str(Path(sys.executable).with_name("claims"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def claims_cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [CLAIMS, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        raise AssertionError(f"claims {' '.join(args)} failed: {result.stderr[-2000:]}")
    return result.stdout


class Server:
    def __init__(self, env: dict[str, str], workers: int = 2) -> None:
        self.env = env
        self.workers = workers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        return [CLAIMS, "serve", "--port", str(self.port), "--workers", str(self.workers)]

    def start(self) -> Server:
        self.proc = subprocess.Popen(
            self.command(),
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"claims serve exited with {self.proc.returncode}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.2)
        raise AssertionError("claims serve did not come up in 60 s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


@pytest.fixture
def service_env(tmp_path: Path) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        DATABASE_URL=f"sqlite:///{tmp_path / 'claims.db'}",
        INSTANCE_DIR=str(tmp_path / "instance"),
        REDIS_URL=os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"),
        CALLBACK_ALLOW_PRIVATE="true",
        LOG_FORMAT="json",
    )
    claims_cli(env, "db", "upgrade")
    return env


@pytest.fixture
def server(service_env: dict[str, str]) -> Iterator[Server]:
    srv = Server(service_env).start()
    yield srv
    srv.stop()


def api_headers(env: dict[str, str], role: str = "admin") -> dict[str, str]:
    """A bearer key when the CLI can make one (authentication on), else no header."""
    help_text = claims_cli(env, "--help")
    if "apikeys" not in help_text:
        return {}
    key = claims_cli(env, "apikeys", "create", "--role", role, "--name", f"e2e-{role}")
    return {"Authorization": f"Bearer {key.strip().splitlines()[-1]}"}


@pytest.fixture(scope="session")
def browser_context() -> Iterator[Any]:
    """One Chromium for the whole run (each test opens its own context: no shared cookies).
    Playwright's sync API allows one instance per thread, so every browser test uses this."""
    from tests.e2e.browser import ARGS, CHROMIUM, SHOTS, need_browser

    need_browser()
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield browser
        browser.close()
