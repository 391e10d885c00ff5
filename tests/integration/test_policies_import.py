"""`claims policies import FILE`: JSON and CSV bulk loads, and clear errors."""

from __future__ import annotations

import json
from datetime import date

import pytest
from click.testing import CliRunner

from service.cli import main
from service.domain.calendar import Duration
from tests.helpers import POLICIES

pytestmark = pytest.mark.integration


@pytest.fixture
def env(sqlite_url, tmp_path, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path / "instance"))
    return sqlite_url


def test_import_json_then_csv(env, tmp_path):
    source = tmp_path / "policies.json"
    source.write_text(json.dumps([{"number": n, **POLICIES[n]} for n in ("P-DEV", "P-MED")]))
    result = CliRunner().invoke(main, ["policies", "import", str(source)])
    assert result.exit_code == 0, result.output
    assert "2 new" in result.output

    csv_file = tmp_path / "policies.csv"
    csv_file.write_text(
        "number,holder,status,effective_from,effective_to,currency,claim_type,"
        "limit_per_claim,annual_aggregate,deductible,waiting_period_days,waiting_period,"
        "terminated_on,time_zone\n"
        "P-DEV,Dana Device,cancelled,2026-01-01,2026-12-31,USD,device_damage,900,2000,25,0,,"
        "2026-06-30,America/New_York\n"
        "P-DEV,Dana Device,cancelled,2026-01-01,2026-12-31,USD,device_theft,1500,3000,100,,P1M,"
        "2026-06-30,America/New_York\n"
        "P-NEW,Nia New,active,2026-02-01,2027-01-31,EUR,water_damage,20000,50000,500,,,,\n"
    )
    result = CliRunner().invoke(main, ["policies", "import", str(csv_file)])
    assert result.exit_code == 0, result.output
    assert "1 new, 1 replaced" in result.output

    from service.config import load
    from service.usecases.context import build_context
    from service.usecases.manage_policies import get_policy

    ctx = build_context(load())
    dev = get_policy(ctx, "P-DEV")
    assert dev is not None and dev.status == "cancelled"
    assert str(dev.coverage_for("device_damage").limit_per_claim) == "900.00"
    assert (dev.terminated_on, dev.time_zone) == (date(2026, 6, 30), "America/New_York")
    assert dev.coverage_for("device_theft").waiting_period == Duration(1, "months")
    assert get_policy(ctx, "P-NEW").coverage_for("water_damage").waiting_period == Duration(
        0, "days"
    )


def test_import_refuses_a_bad_policy_and_says_which(env, tmp_path):
    source = tmp_path / "bad.json"
    bad = dict(POLICIES["P-DEV"], status="sleeping")
    source.write_text(
        json.dumps([{"number": "P-OK", **POLICIES["P-MED"]}, {"number": "P-BAD", **bad}])
    )
    result = CliRunner().invoke(main, ["policies", "import", str(source)])
    assert result.exit_code != 0
    assert "P-BAD" in result.output and "status" in result.output


CSV_HEAD = (
    "number,holder,status,effective_from,effective_to,currency,claim_type,"
    "limit_per_claim,annual_aggregate,deductible,waiting_period_days,waiting_period,"
    "terminated_on,time_zone\n"
)


def stored_numbers() -> list[str]:
    from service.config import load
    from service.usecases.context import build_context
    from service.usecases.manage_policies import get_policy

    ctx = build_context(load())
    return [n for n in ("P-OK", "P-DEV", "P-NEW") if get_policy(ctx, n) is not None]


def test_import_checks_every_row_like_the_api_and_imports_nothing_on_error(env, tmp_path):
    """Finding 9: every row checked as PUT /v1/policies checks it, each problem as
    file:line, and the valid rows are not imported either."""
    csv_file = tmp_path / "policies.csv"
    csv_file.write_text(
        CSV_HEAD
        + "P-OK,Olga Ok,active,2026-01-01,2026-12-31,EUR,device_damage,900,2000,25,0,,,\n"
        + "P-DEV,Dana,active,2026-01-01,2026-12-31,EUR,device_damage,-5,2000,25,0,,,\n"
        + "P-DEV,Dana,active,2026-01-01,2026-12-31,EUR,device_theft,10,2000,1e5,0,,,\n"
        + "P-NEW,Nia,active,2026-02-01,2026-01-31,XXQ,water_damage,20,50,5,,,,\n"
        + "P-ARB,Ari,active,2026-02-01,2027-01-31,EUR,water_damage,20,50,5,\u0663\u0660,,,\n"
    )
    result = CliRunner().invoke(main, ["policies", "import", str(csv_file)])
    assert result.exit_code != 0
    out = result.output
    assert f"{csv_file}:3: policy P-DEV: coverages.0.limit_per_claim:" in out
    assert f"{csv_file}:4: policy P-DEV: coverages.1.deductible:" in out
    assert f"{csv_file}:5: policy P-NEW: currency:" in out
    assert f"{csv_file}:6: waiting_period_days:" in out
    assert "nothing imported" in out
    assert stored_numbers() == []

    source = tmp_path / "policies.json"
    good = {"number": "P-OK", **POLICIES["P-MED"]}
    bad = {"number": "P-NEW", **POLICIES["P-DEV"], "effective_to": "2020-01-01"}
    source.write_text("[\n" + json.dumps(good) + ",\n" + json.dumps(bad) + "\n]\n")
    result = CliRunner().invoke(main, ["policies", "import", str(source)])
    assert result.exit_code != 0
    assert f"{source}:3: policy P-NEW: effective_to:" in result.output
    assert stored_numbers() == []


def test_import_refuses_a_currency_change_once_the_policy_has_claims(env, tmp_path):
    from service.config import load
    from service.usecases.context import build_context
    from service.usecases.manage_policies import get_policy
    from tests.unit.usecases.conftest import add_claim

    source = tmp_path / "policies.json"
    source.write_text(json.dumps([{"number": "POL-1", **POLICIES["P-DEV"], "currency": "USD"}]))
    assert CliRunner().invoke(main, ["policies", "import", str(source)]).exit_code == 0
    ctx = build_context(load())
    add_claim(ctx)  # a claim on POL-1
    source.write_text(
        json.dumps(
            [
                {"number": "P-LATER", **POLICIES["P-DEV"]},
                {"number": "POL-1", **POLICIES["P-DEV"], "currency": "EUR"},
            ]
        )
    )
    result = CliRunner().invoke(main, ["policies", "import", str(source)])
    assert result.exit_code == 1
    assert "POL-1" in result.output and "nothing imported" in result.output
    assert get_policy(ctx, "POL-1").currency == "USD"
    assert get_policy(ctx, "P-LATER") is None  # all or nothing
