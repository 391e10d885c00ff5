"""A live `claims serve` (2 workers) switches rulesets with no failed request, and refuses
a broken one while decisions keep coming from the version before."""

from __future__ import annotations

import os
import shutil
import threading
import time
from pathlib import Path

import pytest
import requests

from tests.e2e.conftest import ROOT, Server, api_headers
from tests.helpers import POLICIES, claim

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _write_atomically(path: Path, text: str) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _versions(url: str, headers: dict[str, str], polls: int = 12) -> tuple[set[str], set[int]]:
    seen, pids = set(), set()
    for _ in range(polls):
        body = requests.get(f"{url}/v1/rulesets/active", headers=headers, timeout=10).json()
        seen.add(body["version"])
        pids.add(body["pid"])
    return seen, pids


def test_live_reload_without_failed_requests(service_env: dict[str, str], tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules, ignore=shutil.ignore_patterns("tests", "schema"))
    service_env.update(RULES_DIR=str(rules), RULES_WATCH_SECONDS="0.3")
    intake = api_headers(service_env, "intake")
    analyst = api_headers(service_env, "analyst")
    server = Server(service_env, workers=2).start()
    try:
        url = server.url
        for number in ("P-DEV",):
            assert requests.put(
                f"{url}/v1/policies/{number}", json=POLICIES[number], headers=intake, timeout=10
            ).status_code in (200, 201)
        old, _ = _versions(url, analyst)
        assert len(old) == 1

        failures: list[str] = []
        versions: set[str] = set()
        stop = threading.Event()

        def submit() -> None:
            while not stop.is_set():
                try:
                    r = requests.post(
                        f"{url}/v1/claims", json=claim(amount="300"), headers=intake, timeout=30
                    )
                    if r.status_code != 201:
                        failures.append(f"{r.status_code} {r.text[:200]}")
                    else:
                        versions.add(r.json()["decision"]["ruleset_version"])
                except requests.RequestException as exc:
                    failures.append(repr(exc))

        threads = [threading.Thread(target=submit) for _ in range(4)]
        for t in threads:
            t.start()
        time.sleep(1.0)
        amounts = rules / "amounts.yaml"
        _write_atomically(
            amounts,
            amounts.read_text().replace("payable_amount: {gt: 1000}", "payable_amount: {gt: 200}"),
        )
        deadline = time.monotonic() + 30
        new: set[str] = set()
        while time.monotonic() < deadline:
            new, pids = _versions(url, analyst)
            if len(new) == 1 and new != old:
                break
            time.sleep(0.3)
        time.sleep(1.0)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        assert not failures, failures[:5]
        assert len(new) == 1 and new != old, new
        assert versions >= old | new  # requests were decided by both, around the switch

        # every worker, asked several times, says the same version
        seen, pids = _versions(url, analyst, polls=20)
        assert seen == new, (seen, pids)

        # garbage: refused, the new version keeps deciding, the error names file:line
        _write_atomically(amounts, "rules:\n  - id: [unclosed\n")
        time.sleep(1.5)
        deadline = time.monotonic() + 30
        errors: set[str | None] = set()
        while time.monotonic() < deadline:
            bodies = [
                requests.get(f"{url}/v1/rulesets/active", headers=analyst, timeout=10).json()
                for _ in range(10)
            ]
            errors = {b["last_error"] for b in bodies}
            if all(e and e.startswith("amounts.yaml:") for e in errors):
                break
            time.sleep(0.3)
        assert all(e and e.startswith("amounts.yaml:") for e in errors), errors
        assert {b["version"] for b in bodies} == new
        for _ in range(6):
            r = requests.post(
                f"{url}/v1/claims", json=claim(amount="300"), headers=intake, timeout=30
            )
            assert r.status_code == 201
            assert {r.json()["decision"]["ruleset_version"]} == new
        refused = requests.post(f"{url}/v1/rulesets/reload", headers=analyst, timeout=10)
        assert refused.status_code == 422
        assert refused.json()["problems"][0].startswith("amounts.yaml:")
    finally:
        server.stop()
