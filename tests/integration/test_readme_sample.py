"""The README's sample policy and claim give the answer the README prints, on the day
the README is dated (2026-11-30; it says how to move the dates after that)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def _body_after(readme: str, command: str) -> dict:
    start = readme.index(command)
    raw = readme[start:].split("-d '", 1)[1].split("'", 1)[0]
    return json.loads(raw)


def test_readme_sample_gives_the_printed_decision(client, clock):
    readme = (ROOT / "README.md").read_text()
    policy = _body_after(readme, "curl -X PUT http://127.0.0.1:8000/v1/policies/DEV-1001")
    body = _body_after(readme, "curl -X POST http://127.0.0.1:8000/v1/claims")
    printed = re.search(r'# 201 .*?"payable_amount": "([0-9.]+)"', readme, re.S)
    assert printed, "the README prints the payable amount"
    for hour in (3, 12, 23):  # any time of that day, in UTC, in the policy's New York
        clock.set(datetime(2026, 11, 30, hour, 0, tzinfo=UTC))
        number = f"DEV-1001-{hour}"  # a policy each: the same claim twice is a duplicate
        assert client.put(f"/v1/policies/{number}", json=policy).status_code == 201
        sent = dict(body, external_ref=f"{body['external_ref']}-{hour}", policy_number=number)
        response = client.post("/v1/claims", json=sent)
        assert response.status_code == 201, response.get_json()
        decision = response.get_json()["decision"]
        assert (decision["outcome"], decision["payable_amount"]) == ("approved", printed[1])
        assert decision["adjustments"] == [
            {"group": "PR", "carc": "1", "amount": "50.00", "reason": "deductible"}
        ]
