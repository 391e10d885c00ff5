"""A rule file cannot take the service down, and every process decides with the last good
version (issue 13): hostile reloads and backtests are refused while claims keep being
decided, candidates are checked within a time and memory budget, a process that starts
with a broken folder decides with the last active version from the database, and a
reload reaches the other processes of the host at once.

The bombs here are small enough (6 levels: 531,441 conditions once expanded) that code
without the limits only slows down; tests/unit/test_rules_limits.py and the e2e test
use the full ten levels in processes with limited memory.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from tests.auth_helpers import key
from tests.conftest import ROOT, make_config
from tests.helpers import claim, put_policies
from tests.hostile_rules import alias_bomb, deep_all_not, deep_brackets, many_rules

pytestmark = pytest.mark.integration
HOSTILE = {
    "alias bomb": (alias_bomb(levels=6), "hostile.yaml:8:11: anchor &a0 refused"),
    "20,000 [": (deep_brackets(20_000), "(setting RULES_MAX_DEPTH)"),
    "400 all/not": (deep_all_not(400), "(setting RULES_MAX_DEPTH)"),
}
RAISED = {  # the loading caps as far as they go: only the compile budget is left to refuse
    "RULES_MAX_RULES": 20_000,
    "RULES_MAX_FILE_BYTES": 64 << 20,
    "RULES_MAX_TOTAL_BYTES": 64 << 20,
}


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", folder, ignore=shutil.ignore_patterns("tests", "schema"))
    return folder


def make_app(db_url: str, tmp_path: Path, rules_dir: Path, **settings: Any) -> Any:
    """An app as one serving process builds it; two made alike share the host folder."""
    from service.api.app import create_app
    from service.usecases.context import build_context

    settings.setdefault("RULES_WATCH_SECONDS", 0.0)
    config = make_config(db_url, tmp_path, RULES_DIR=str(rules_dir), **settings)
    app = create_app(config, build_context(config))
    app.testing = True
    return app


def decide(app: Any, amount: str = "300") -> dict[str, Any]:
    response = app.test_client().post("/v1/claims", json=claim(amount=amount))
    assert response.status_code == 201, response.get_json()
    return dict(response.get_json()["decision"])


@pytest.mark.parametrize("name", list(HOSTILE))
def test_hostile_reload_is_refused_while_claims_are_decided(
    db_url: str, tmp_path: Path, rules_dir: Path, name: str
) -> None:
    text, expected = HOSTILE[name]
    app = make_app(db_url, tmp_path, rules_dir)
    admin = key(app, "admin")
    put_policies(app.test_client(), ["P-DEV"])
    old = decide(app)["ruleset_version"]
    (rules_dir / "hostile.yaml").write_text(text)

    answers: list[Any] = []
    reload = threading.Thread(
        target=lambda: answers.append(app.test_client().post("/v1/rulesets/reload", headers=admin))
    )
    reload.start()
    during = [decide(app)["ruleset_version"]]
    while reload.is_alive():
        during.append(decide(app)["ruleset_version"])
    reload.join()
    (response,) = answers
    assert response.status_code == 422, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    problems = response.get_json()["problems"]
    assert len(problems) == 1 and problems[0].startswith("hostile.yaml:"), problems
    assert expected in problems[0]
    active = app.test_client().get("/v1/rulesets/active", headers=admin).get_json()
    assert (active["version"], active["source"]) == (old, "folder")
    assert active["last_error"] == problems[0]
    assert set(during) == {old} and decide(app)["ruleset_version"] == old


@pytest.mark.parametrize("name", list(HOSTILE))
def test_backtest_of_hostile_inline_files_is_422(
    sqlite_url: str, tmp_path: Path, rules_dir: Path, name: str
) -> None:
    text, expected = HOSTILE[name]
    app = make_app(sqlite_url, tmp_path, rules_dir)
    response = app.test_client().post(
        "/v1/rulesets/backtest",
        json={"files": {"hostile.yaml": text}},
        headers=key(app, "analyst"),
    )
    assert response.status_code == 422, response.get_data(as_text=True)[:500]
    assert response.mimetype == "application/problem+json"
    (problem,) = response.get_json()["problems"]
    assert problem.startswith("hostile.yaml:") and expected in problem


@pytest.mark.parametrize(
    ("budget", "rules", "setting"),
    [
        ({"RULES_COMPILE_SECONDS": 1.0}, 20_000, "RULES_COMPILE_SECONDS"),
        ({"RULES_COMPILE_MEMORY_MB": 128}, 10_000, "RULES_COMPILE_MEMORY_MB"),
    ],
)
def test_a_candidate_over_the_compile_budget_is_refused(
    sqlite_url: str,
    tmp_path: Path,
    rules_dir: Path,
    budget: dict[str, Any],
    rules: int,
    setting: str,
) -> None:
    app = make_app(sqlite_url, tmp_path, rules_dir, **RAISED, **budget)
    admin = key(app, "admin")
    put_policies(app.test_client(), ["P-DEV"])
    old = decide(app)["ruleset_version"]
    (rules_dir / "many.yaml").write_text(many_rules(rules))
    response = app.test_client().post("/v1/rulesets/reload", headers=admin)
    assert response.status_code == 422, response.get_data(as_text=True)[:500]
    (problem,) = response.get_json()["problems"]
    assert problem.startswith("rules:1:1: ") and f"(setting {setting})" in problem
    active = app.test_client().get("/v1/rulesets/active", headers=admin).get_json()
    assert active["last_error"] == problem and active["version"] == old
    assert decide(app)["ruleset_version"] == old


def test_a_process_starting_with_a_broken_folder_decides_with_the_last_active_version(
    db_url: str, tmp_path: Path, rules_dir: Path, caplog: pytest.LogCaptureFixture
) -> None:
    first = make_app(db_url, tmp_path, rules_dir)
    put_policies(first.test_client(), ["P-DEV"])
    good = decide(first)["ruleset_version"]
    amounts = rules_dir / "amounts.yaml"
    amounts.write_text(amounts.read_text().replace("{gt: 1000}", "{gt: 200}"))
    reloaded = first.test_client().post("/v1/rulesets/reload", headers=key(first, "analyst"))
    newer = reloaded.get_json()["version"]
    assert reloaded.status_code == 200 and newer != good
    amounts.write_text(alias_bomb(levels=6))  # an analyst's broken edit, not reloaded

    with caplog.at_level(logging.ERROR, logger="service.rules.manager"):
        started = make_app(db_url, tmp_path, rules_dir)  # a worker (re)started now
        decision = decide(started, amount="310")  # its first request: a claim
    assert (decision["ruleset_version"], decision["outcome"]) == (newer, "escalated")
    assert any("last active version" in r.getMessage() for r in caplog.records)
    admin = key(started, "admin")
    active = started.test_client().get("/v1/rulesets/active", headers=admin)
    assert active.status_code == 200
    body = active.get_json()
    assert (body["version"], body["source"]) == (newer, "database")
    assert body["folder_error"].startswith("amounts.yaml:") and "anchor" in body["folder_error"]
    assert body["last_error"] == body["folder_error"]

    shutil.copy(ROOT / "rules" / "amounts.yaml", amounts)  # fixed: the folder is back
    fixed = started.test_client().post("/v1/rulesets/reload", headers=admin).get_json()
    assert (fixed["version"], fixed["source"], fixed["folder_error"]) == (good, "folder", None)


def test_with_no_stored_version_either_active_answers_and_claims_get_503(
    db_url: str, tmp_path: Path, rules_dir: Path
) -> None:
    (rules_dir / "amounts.yaml").write_text(deep_brackets(20_000))
    app = make_app(db_url, tmp_path, rules_dir)
    put_policies(app.test_client(), ["P-DEV"])
    active = app.test_client().get("/v1/rulesets/active", headers=key(app, "supervisor"))
    assert active.status_code == 200
    body = active.get_json()
    assert (body["version"], body["source"], body["rule_count"]) == (None, "none", 0)
    assert "RULES_MAX_DEPTH" in body["folder_error"]
    response = app.test_client().post("/v1/claims", json=claim())
    assert response.status_code == 503
    assert response.mimetype == "application/problem+json"


def test_a_reload_reaches_the_other_processes_of_the_host_at_once(
    db_url: str, tmp_path: Path, rules_dir: Path
) -> None:
    one = make_app(db_url, tmp_path, rules_dir)  # no watch: only the host marker carries it
    two = make_app(db_url, tmp_path, rules_dir)
    put_policies(one.test_client(), ["P-DEV"])
    old = decide(one)["ruleset_version"]
    assert decide(two)["ruleset_version"] == old
    amounts = rules_dir / "amounts.yaml"
    amounts.write_text(amounts.read_text().replace("{gt: 1000}", "{gt: 200}"))

    response = one.test_client().post("/v1/rulesets/reload", headers=key(one, "analyst"))
    assert response.status_code == 200
    body = response.get_json()
    assert body["changed"] is True and body["version"] != old
    assert [decide(two, "310")["ruleset_version"] for _ in range(3)] == [body["version"]] * 3
    assert body["processes"] == {"switched": 1, "processes": 1}  # one pid in this test
    status = two.extensions["claims"].rules.status()
    assert (status["version"], status["reloads"]) == (body["version"], 1)


def test_an_idle_process_switches_without_a_request(
    sqlite_url: str, tmp_path: Path, rules_dir: Path
) -> None:
    one = make_app(sqlite_url, tmp_path, rules_dir)
    two = make_app(sqlite_url, tmp_path, rules_dir)
    idle = two.extensions["claims"].rules
    old = idle.engine().ruleset.version
    amounts = rules_dir / "amounts.yaml"
    amounts.write_text(amounts.read_text().replace("{gt: 1000}", "{gt: 200}"))
    new = one.extensions["claims"].rules.reload().version
    assert new != old
    deadline = time.monotonic() + 5
    while idle._engine.ruleset.version != new and time.monotonic() < deadline:  # noqa: SLF001
        time.sleep(0.02)
    assert idle._engine.ruleset.version == new  # noqa: SLF001 - no engine() call: the thread


def test_a_folder_refused_for_time_stays_refused_for_every_later_process(
    sqlite_url: str, tmp_path: Path, rules_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Finding 2: a refusal for time is kept on the host by content, so a worker that
    replaces a crashed one decides with the last active version instead of loading the
    refused folder, and a reload in a fresh process checks the folder once, not twice."""
    from service.rules import sandbox

    budget = {**RAISED, "RULES_COMPILE_SECONDS": 1.0}
    first = make_app(sqlite_url, tmp_path, rules_dir, **budget)
    admin = key(first, "admin")
    put_policies(first.test_client(), ["P-DEV"])
    old = decide(first)["ruleset_version"]
    (rules_dir / "many.yaml").write_text(many_rules(20_000))
    refused = first.test_client().post("/v1/rulesets/reload", headers=admin)
    assert refused.status_code == 422
    assert "(setting RULES_COMPILE_SECONDS)" in refused.get_json()["problems"][0]

    runs: list[int] = []
    real_child = sandbox._run_child

    def counted(*args: Any) -> Any:
        runs.append(1)
        return real_child(*args)

    monkeypatch.setattr(sandbox, "_run_child", counted)
    sandbox._KEPT.clear()  # a new process remembers nothing of its own
    replacement = make_app(sqlite_url, tmp_path, rules_dir, **budget)
    assert decide(replacement)["ruleset_version"] == old
    body = replacement.test_client().get("/v1/rulesets/active", headers=admin).get_json()
    assert (body["version"], body["source"]) == (old, "database")
    assert "(setting RULES_COMPILE_SECONDS)" in body["folder_error"]
    fresh = make_app(sqlite_url, tmp_path, rules_dir, **budget)
    again = fresh.test_client().post("/v1/rulesets/reload", headers=admin)
    assert again.status_code == 422 and again.get_json()["version"] == old
    assert runs == []  # neither process checked the refused folder again

    retried = first.test_client().post("/v1/rulesets/reload", headers=admin)
    assert retried.status_code == 422  # an explicit reload checks a time refusal again
    assert runs == [1]
    assert decide(first)["ruleset_version"] == old


def test_last_error_is_the_hosts_in_every_process(
    sqlite_url: str, tmp_path: Path, rules_dir: Path
) -> None:
    """Finding 13: a refused reload shows in every process of the host, and a later good
    reload by another process clears it everywhere (no stale error left in one worker)."""
    one = make_app(sqlite_url, tmp_path, rules_dir)
    two = make_app(sqlite_url, tmp_path, rules_dir)
    admin = key(one, "admin")
    put_policies(one.test_client(), ["P-DEV"])
    decide(one), decide(two)
    (rules_dir / "hostile.yaml").write_text(deep_brackets(20_000))
    refused = two.test_client().post("/v1/rulesets/reload", headers=admin)
    assert refused.status_code == 422
    seen = [
        app.test_client().get("/v1/rulesets/active", headers=admin).get_json() for app in (one, two)
    ]
    assert [s["last_error_scope"] for s in seen] == ["host", "host"]
    assert (
        seen[0]["last_error"] == seen[1]["last_error"]
        and "RULES_MAX_DEPTH" in seen[0]["last_error"]
    )

    (rules_dir / "hostile.yaml").unlink()
    assert one.test_client().post("/v1/rulesets/reload", headers=admin).status_code == 200
    after = two.test_client().get("/v1/rulesets/active", headers=admin).get_json()
    assert (after["last_error"], after["last_error_at"]) == (None, None)
