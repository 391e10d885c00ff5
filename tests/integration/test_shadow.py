"""Shadow: a challenger ruleset decides every live claim beside the active one, never for real."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.auth_helpers import key
from tests.conftest import ROOT, make_config
from tests.helpers import claim, put_policies
from tests.integration.test_rulesets_api import raise_device_threshold

pytestmark = pytest.mark.integration


def shadow_app(db_url: str, tmp_path: Path, clock: Any, shadow_dir: Path) -> Any:
    from service.api.app import create_app
    from service.usecases.context import build_context

    config = make_config(db_url, tmp_path, SHADOW_RULES_DIR=str(shadow_dir))
    ctx = build_context(config)
    ctx.clock = clock
    app = create_app(config, ctx)
    app.testing = True
    return app


@pytest.fixture
def challenger(tmp_path: Path) -> Path:
    folder = tmp_path / "challenger"
    shutil.copytree(ROOT / "rules", folder, ignore=shutil.ignore_patterns("tests", "schema"))
    raise_device_threshold(folder)
    return folder


def test_disagreements_are_recorded_and_live_outcomes_unchanged(
    db_url: str, tmp_path: Path, clock: Any, challenger: Path
) -> None:
    app = shadow_app(db_url, tmp_path, clock, challenger)
    client = app.test_client()
    put_policies(client, ["P-DEV"])
    a = client.post("/v1/claims", json=claim(amount="300")).get_json()
    b = client.post("/v1/claims", json=claim(amount="200")).get_json()
    assert a["decision"]["outcome"] == "approved"  # the shadow would escalate: not used
    assert a["decision"]["payable_amount"] == "250.00"
    assert b["decision"]["outcome"] == "approved"

    assert client.get("/v1/rulesets/shadow/report").status_code == 403  # intake
    report = client.get("/v1/rulesets/shadow/report", headers=key(app, "analyst")).get_json()
    assert report["enabled"] is True
    assert report["evaluated"] == 2 and report["disagreements"] == 1
    assert report["transitions"] == {"approved": {"approved": 1, "escalated": 1}}
    (recent,) = report["recent_disagreements"]
    assert recent["claim_id"] == a["id"]
    assert (recent["active_outcome"], recent["shadow_outcome"]) == ("approved", "escalated")
    assert (recent["active_payable"], recent["shadow_payable"]) == ("250.00", None)
    assert recent["shadow_version"] == report["shadow"]["version"]
    assert recent["active_version"] == a["decision"]["ruleset_version"]
    stored = client.get(f"/v1/rulesets/{recent['shadow_version']}", headers=key(app, "analyst"))
    assert stored.status_code == 200  # the challenger's text is kept too


def test_a_broken_shadow_never_fails_a_live_claim(
    db_url: str, tmp_path: Path, clock: Any, challenger: Path
) -> None:
    (challenger / "amounts.yaml").write_text("rules: [ {")
    app = shadow_app(db_url, tmp_path, clock, challenger)
    client = app.test_client()
    put_policies(client, ["P-DEV"])
    response = client.post("/v1/claims", json=claim(amount="300"))
    assert response.status_code == 201
    assert response.get_json()["decision"]["outcome"] == "approved"
    report = client.get("/v1/rulesets/shadow/report", headers=key(app, "admin")).get_json()
    assert report["evaluated"] == 0
    assert "amounts.yaml" in report["shadow"]["last_error"]


def test_no_shadow_configured(client: Any, app: Any) -> None:
    report = client.get("/v1/rulesets/shadow/report", headers=key(app, "supervisor")).get_json()
    assert report == {
        "enabled": False,
        "shadow": None,
        "evaluated": 0,
        "disagreements": 0,
        "transitions": {},
        "recent_disagreements": [],
    }
