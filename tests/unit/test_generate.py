"""The synthetic data generator: deterministic, valid API bodies, every default rule fires."""

from __future__ import annotations

from collections import Counter
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from devtools.demo.generate import decide_offline, generate
from service.api.schemas import ClaimSchema, PolicySchema
from service.rules.engine import RulesEngine, load_ruleset

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 6, 15)


@pytest.fixture(scope="module")
def engine():  # type: ignore[no-untyped-def]
    engine = RulesEngine(load_ruleset(ROOT / "rules"))
    yield engine
    engine.close()


def test_same_seed_same_data_other_seed_other_data() -> None:
    first = generate(50, 300, 42, TODAY)
    assert generate(50, 300, 42, TODAY) == first
    assert generate(50, 300, 43, TODAY) != first
    policies, claims = first
    assert len(policies) == 50 and len(claims) == 300
    assert len({c["external_ref"] for c in claims}) == 300


def test_bodies_are_what_the_api_accepts() -> None:
    policies, claims = generate(60, 600, 3, TODAY)
    policy_schema, claim_schema = PolicySchema(), ClaimSchema()
    for body in policies:
        policy_schema.load({k: v for k, v in body.items() if k != "number"})
    for body in claims:
        data = claim_schema.load(body)
        assert data["date_of_loss"] <= data["reported_at"].date() <= TODAY - timedelta(days=1)


def test_every_default_rule_fires_over_2000_claims(engine) -> None:  # type: ignore[no-untyped-def]
    policies, claims = generate(400, 2000, 1, TODAY)
    fired: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()
    for decided in decide_offline(engine, policies, claims):
        outcomes[decided.decision.outcome] += 1
        fired.update(r.rule for r in decided.decision.reasons)
        # line rules decide lines: they fire in the trace, once per line (`item`)
        fired.update(str(t["rule"]) for t in decided.decision.trace if "item" in t)
    never = [r.id for r in engine.ruleset.rules if fired[r.id] == 0]
    assert never == []
    assert set(outcomes) == {"approved", "rejected", "escalated", "pending_info"}
    # plausible rates: approvals are the largest group, no single exception dominates
    assert outcomes["approved"] == max(outcomes.values())
    for rule in ("POLICY_NOT_FOUND", "POSSIBLE_DUPLICATE", "REPORTED_AFTER_ONE_YEAR"):
        assert fired[rule] < 0.1 * len(claims)


def test_cli_writes_files(tmp_path: Path) -> None:
    from devtools.demo.generate_cli import generate_command

    result = CliRunner().invoke(
        generate_command,
        [
            "--policies",
            "5",
            "--claims",
            "20",
            "--seed",
            "2",
            "--today",
            "2026-06-15",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "policies.json").exists()
    lines = (tmp_path / "claims.jsonl").read_text().splitlines()
    assert len(lines) == 20
    again = CliRunner().invoke(
        generate_command,
        [
            "--policies",
            "5",
            "--claims",
            "20",
            "--seed",
            "2",
            "--today",
            "2026-06-15",
            "--out",
            str(tmp_path / "again"),
        ],
    )
    assert again.exit_code == 0
    assert (tmp_path / "again" / "claims.jsonl").read_text().splitlines() == lines
    assert datetime.fromisoformat(__import__("json").loads(lines[0])["reported_at"])
