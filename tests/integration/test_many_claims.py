"""5,000 claims through one process: the engine stays correct and nothing leaks."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from service.db.tables import ClaimRow, DecisionRow
from tests.helpers import POLICIES, claim, put_policies

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_five_thousand_sequential_claims(sqlite_url, tmp_path, clock):
    from service.api.app import create_app
    from service.usecases.context import build_context
    from tests.conftest import make_config

    config = make_config(sqlite_url, tmp_path)
    ctx = build_context(config)
    ctx.clock = clock
    client = create_app(config, ctx).test_client()
    from service.api.schemas import PolicySchema
    from service.usecases.manage_policies import policy_from_data, put_policy

    put_policies(client, ["P-LAPSED"])
    template = PolicySchema().load(POLICIES["P-DEV"])
    for n in range(1700):  # three claims per policy: no frequency review
        put_policy(ctx, policy_from_data(f"BULK-{n}", template))
    outcomes: dict[str, int] = {}
    for i in range(5000):
        policy = "NOPE" if i % 5 == 3 else "P-LAPSED" if i % 5 == 4 else f"BULK-{i // 3}"
        amount = f"{100 + i % 3 * 600}.{i % 100:02d}"  # unique per policy: no duplicates
        body = claim(policy, "device_damage", amount, documents=[] if i % 5 == 2 else None)
        response = client.post("/v1/claims", json=body)
        assert response.status_code == 201, (i, response.get_json())
        outcome = response.get_json()["decision"]["outcome"]
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    assert set(outcomes) == {"approved", "rejected", "escalated", "pending_info"}, outcomes
    with ctx.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(ClaimRow)) == 5000
        assert session.scalar(select(func.count()).select_from(DecisionRow)) == 5000
    # the same facts still decide the same way after 5,000 evaluations
    first = client.post("/v1/claims", json=claim("BULK-1699", "device_damage", "300"))
    assert first.get_json()["decision"]["outcome"] == "approved"
