"""/v1/rulesets: the active ruleset, safe reload, stored versions, role checks."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.auth_helpers import key
from tests.conftest import ROOT, make_config
from tests.helpers import claim, put_policies

pytestmark = pytest.mark.integration


@pytest.fixture
def rules_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", folder, ignore=shutil.ignore_patterns("tests", "schema"))
    return folder


@pytest.fixture
def rules_app(db_url: str, tmp_path: Path, rules_dir: Path, clock: Any) -> Any:
    from service.api.app import create_app
    from service.usecases.context import build_context

    config = make_config(db_url, tmp_path, RULES_DIR=str(rules_dir), RULES_WATCH_SECONDS=0.0)
    ctx = build_context(config)
    ctx.clock = clock
    app = create_app(config, ctx)
    app.testing = True
    return app


def raise_device_threshold(rules_dir: Path, new: str = "200") -> None:
    path = rules_dir / "amounts.yaml"
    text = path.read_text()
    assert "payable_amount: {gt: 1000}" in text
    path.write_text(text.replace("payable_amount: {gt: 1000}", f"payable_amount: {{gt: {new}}}"))


def test_active_shows_the_ruleset_and_needs_a_staff_role(rules_app: Any) -> None:
    client = rules_app.test_client()
    assert client.get("/v1/rulesets/active").status_code == 403  # intake
    body = client.get("/v1/rulesets/active", headers=key(rules_app, "finance")).get_json()
    assert len(body["version"]) == 64
    assert body["rule_count"] > 10
    assert body["last_error"] is None
    assert "amounts.yaml" in body["files"]


def test_reload_switches_and_every_version_stays_readable(rules_app: Any, rules_dir: Path) -> None:
    client = rules_app.test_client()
    analyst = key(rules_app, "analyst")
    put_policies(client, ["P-DEV"])
    first = client.post("/v1/claims", json=claim(amount="300")).get_json()["decision"]
    assert first["outcome"] == "approved"
    old = client.get("/v1/rulesets/active", headers=analyst).get_json()["version"]

    raise_device_threshold(rules_dir)
    assert (
        client.post("/v1/rulesets/reload", headers=key(rules_app, "supervisor")).status_code == 403
    )
    response = client.post("/v1/rulesets/reload", headers=analyst)
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["changed"] is True and body["version"] != old and body["last_error"] is None

    second = client.post("/v1/claims", json=claim(amount="310")).get_json()["decision"]
    assert second["outcome"] == "escalated"
    assert second["ruleset_version"] == body["version"]
    assert first["ruleset_version"] == old

    for version, threshold in ((old, "{gt: 1000}"), (body["version"], "{gt: 200}")):
        stored = client.get(f"/v1/rulesets/{version}", headers=analyst).get_json()
        assert f"payable_amount: {threshold}" in stored["files"]["amounts.yaml"]
    items = client.get("/v1/rulesets", headers=analyst).get_json()["items"]
    assert {i["version"]: i["decisions"] for i in items} == {old: 1, body["version"]: 1}
    again = client.post("/v1/rulesets/reload", headers=analyst).get_json()
    assert again["changed"] is False and again["version"] == body["version"]


def test_broken_ruleset_is_refused_and_the_old_one_keeps_deciding(
    rules_app: Any, rules_dir: Path
) -> None:
    client = rules_app.test_client()
    admin = key(rules_app, "admin")
    put_policies(client, ["P-DEV"])
    old = client.get("/v1/rulesets/active", headers=admin).get_json()["version"]
    path = rules_dir / "amounts.yaml"
    text = path.read_text()
    assert "allowed_amount: {gt: 0, lte:" in text
    path.write_text(text.replace("allowed_amount: {gt: 0, lte:", "allowed_amuont: {gt: 0, lte:", 1))

    response = client.post("/v1/rulesets/reload", headers=admin)
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["version"] == old
    assert any(p.startswith("amounts.yaml:") and "allowed_amount" in p for p in problem["problems"])

    active = client.get("/v1/rulesets/active", headers=admin).get_json()
    assert active["version"] == old
    assert active["last_error"].startswith("amounts.yaml:")
    decided = client.post("/v1/claims", json=claim(amount="300")).get_json()["decision"]
    assert decided["outcome"] == "approved" and decided["ruleset_version"] == old

    path.write_text("rules: [ {")  # not YAML at all
    problem = client.post("/v1/rulesets/reload", headers=admin).get_json()
    assert any(p.startswith("amounts.yaml:") for p in problem["problems"])
    assert (
        client.post("/v1/claims", json=claim(amount="320")).get_json()["decision"][
            "ruleset_version"
        ]
        == old
    )


def test_unknown_version_is_404(rules_app: Any) -> None:
    response = rules_app.test_client().get(
        "/v1/rulesets/" + "0" * 64, headers=key(rules_app, "supervisor")
    )
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"


def test_watch_picks_up_an_edit_without_blocking(
    db_url: str, tmp_path: Path, rules_dir: Path
) -> None:
    import time

    from service.usecases.context import build_context

    ctx = build_context(
        make_config(db_url, tmp_path, RULES_DIR=str(rules_dir), RULES_WATCH_SECONDS=0.05)
    )
    old = ctx.engine.ruleset.version
    raise_device_threshold(rules_dir)
    deadline = time.monotonic() + 10
    # the watch swaps the engine, then counts the reload: wait for both
    while (
        ctx.engine.ruleset.version == old or ctx.rules.status()["reloads"] == 0
    ) and time.monotonic() < deadline:
        time.sleep(0.06)
    assert ctx.engine.ruleset.version != old
    assert ctx.rules.status()["reloads"] == 1
