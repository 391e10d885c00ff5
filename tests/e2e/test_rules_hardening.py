"""A real `claims serve` (gunicorn, 2 workers) against hostile rule files and broken
folders (issue 13): a reload reaches every worker within a second, a ten-level alias
bomb or a deep file is refused in seconds while claims keep being decided and no worker
dies, and a server that starts with a broken folder decides with the last good version.

The server runs with a limited address space per process, so on code without the
limits the bomb ends in a MemoryError there, not in the machine's memory.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.e2e.conftest import ROOT, Server, api_headers
from tests.helpers import POLICIES, claim
from tests.hostile_rules import alias_bomb, deep_all_not, deep_brackets

pytestmark = [pytest.mark.e2e, pytest.mark.slow]
MEMORY = 2 << 30  # address space per server process
LIMITED = (
    "import resource, sys\n"
    f"resource.setrlimit(resource.RLIMIT_AS, ({MEMORY}, {MEMORY}))\n"
    "sys.argv = ['claims', *sys.argv[1:]]\n"
    "from service.cli import run\n"
    "run()\n"
)


class LimitedServer(Server):
    """`claims serve` with RLIMIT_AS on the arbiter and (inherited) on every worker."""

    def command(self) -> list[str]:
        return [sys.executable, "-c", LIMITED, *super().command()[1:]]


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", folder, ignore=shutil.ignore_patterns("tests", "schema"))
    return folder


@pytest.fixture
def env(service_env: dict[str, str], rules: Path) -> dict[str, str]:
    service_env.update(RULES_DIR=str(rules), RULES_WATCH_SECONDS="0")  # no watch: reload only
    return service_env


def submit(url: str, intake: dict[str, str], amount: str = "300") -> requests.Response:
    return requests.post(f"{url}/v1/claims", json=claim(amount=amount), headers=intake, timeout=30)


def both_workers_busy(url: str, intake: dict[str, str], analyst: dict[str, str]) -> set[int]:
    """Concurrent requests until both workers have served (and loaded their rules)."""
    pids: set[int] = set()
    deadline = time.monotonic() + 20
    with ThreadPoolExecutor(4) as pool:
        while len(pids) < 2 and time.monotonic() < deadline:
            claims = [pool.submit(submit, url, intake) for _ in range(4)]
            polls = [
                pool.submit(requests.get, f"{url}/v1/rulesets/active", headers=analyst, timeout=10)
                for _ in range(8)
            ]
            assert all(f.result().status_code == 201 for f in claims)
            pids |= {f.result().json()["pid"] for f in polls}
    assert len(pids) == 2, pids
    return pids


def test_a_reload_reaches_every_worker_within_a_second(env: dict[str, str], rules: Path) -> None:
    intake, analyst = api_headers(env, "intake"), api_headers(env, "analyst")
    server = Server(env, workers=2).start()
    try:
        url = server.url
        requests.put(f"{url}/v1/policies/P-DEV", json=POLICIES["P-DEV"], headers=intake)
        both_workers_busy(url, intake, analyst)
        old = submit(url, intake).json()["decision"]["ruleset_version"]
        amounts = rules / "amounts.yaml"
        amounts.write_text(amounts.read_text().replace("{gt: 1000}", "{gt: 200}"))

        reloaded = requests.post(f"{url}/v1/rulesets/reload", headers=analyst, timeout=30)
        assert reloaded.status_code == 200, reloaded.text
        body = reloaded.json()
        new = body["version"]
        assert body["changed"] is True and new != old
        versions = [submit(url, intake).json()["decision"]["ruleset_version"] for _ in range(20)]
        assert versions == [new] * 20
        assert body["processes"] == {"switched": 2, "processes": 2}
        seen = {
            requests.get(f"{url}/v1/rulesets/active", headers=analyst, timeout=10).json()["version"]
            for _ in range(10)
        }
        assert seen == {new}
    finally:
        server.stop()


def test_hostile_files_are_refused_while_every_worker_keeps_deciding(
    env: dict[str, str], rules: Path
) -> None:
    intake, analyst = api_headers(env, "intake"), api_headers(env, "analyst")
    server = LimitedServer(env, workers=2).start()
    try:
        url = server.url
        requests.put(f"{url}/v1/policies/P-DEV", json=POLICIES["P-DEV"], headers=intake)
        pids = both_workers_busy(url, intake, analyst)
        old = submit(url, intake).json()["decision"]["ruleset_version"]
        hostile = rules / "hostile.yaml"
        for text, expected in (
            (alias_bomb(levels=10), "hostile.yaml:8:11: anchor &a0 refused"),
            (deep_brackets(20_000), "(setting RULES_MAX_DEPTH)"),
            (deep_all_not(400), "(setting RULES_MAX_DEPTH)"),
        ):
            hostile.write_text(text)
            during = _claims_while(lambda: _reload(url, analyst), url, intake)
            response, statuses, versions = during
            assert response.status_code == 422, response.text[:500]
            assert response.headers["Content-Type"] == "application/problem+json"
            (problem,) = response.json()["problems"]
            assert problem.startswith("hostile.yaml:") and expected in problem
            assert statuses and set(statuses) == {201} and set(versions) == {old}
            backtest = requests.post(
                f"{url}/v1/rulesets/backtest",
                json={"files": {"hostile.yaml": text}},
                headers=analyst,
                timeout=30,
            )
            assert backtest.status_code == 422, backtest.text[:500]
            assert expected in backtest.json()["problems"][0]
        hostile.unlink()
        after = {submit(url, intake).json()["decision"]["ruleset_version"] for _ in range(6)}
        assert after == {old}
        assert both_workers_busy(url, intake, analyst) == pids  # no worker was killed
    finally:
        server.stop()


def test_a_server_started_with_a_broken_folder_decides_with_the_last_good_version(
    env: dict[str, str], rules: Path
) -> None:
    intake, analyst = api_headers(env, "intake"), api_headers(env, "analyst")
    server = Server(env, workers=1).start()
    try:
        requests.put(f"{server.url}/v1/policies/P-DEV", json=POLICIES["P-DEV"], headers=intake)
        good = submit(server.url, intake).json()["decision"]["ruleset_version"]
        time.sleep(0.5)  # the worker records the version it started with in the background
    finally:
        server.stop()
    (rules / "amounts.yaml").write_text(deep_brackets(20_000))  # an analyst's broken edit

    server = Server(env, workers=2).start()
    try:
        statuses = {submit(server.url, intake).status_code for _ in range(6)}
        active = [
            requests.get(f"{server.url}/v1/rulesets/active", headers=analyst, timeout=10)
            for _ in range(6)
        ]
        decided = submit(server.url, intake).json()["decision"]["ruleset_version"]
    finally:
        server.stop()
    assert statuses == {201} and decided == good
    assert {r.status_code for r in active} == {200}
    for body in (r.json() for r in active):
        assert (body["version"], body["source"]) == (good, "database")
        assert "RULES_MAX_DEPTH" in body["folder_error"]


def _reload(url: str, analyst: dict[str, str]) -> requests.Response:
    return requests.post(f"{url}/v1/rulesets/reload", headers=analyst, timeout=60)


def _claims_while(
    action: Any, url: str, intake: dict[str, str]
) -> tuple[requests.Response, list[int], list[str]]:
    """Run `action` while a thread submits claims; (its answer, their statuses, versions)."""
    statuses: list[int] = []
    versions: list[str] = []
    stop = threading.Event()

    def keep_submitting() -> None:
        while not stop.is_set() or not statuses:
            r = submit(url, intake)
            statuses.append(r.status_code)
            if r.status_code == 201:
                versions.append(r.json()["decision"]["ruleset_version"])

    thread = threading.Thread(target=keep_submitting)
    thread.start()
    try:
        response = action()
    finally:
        stop.set()
        thread.join(timeout=60)
    return response, statuses, versions
