"""Redis down: claims still accepted, messages kept. Database down: 503, nothing written."""

from __future__ import annotations

import socket

import pytest
from sqlalchemy import select

from service.adapters.queue import RQDispatcher
from service.api.app import create_app
from service.db.tables import OutboxRow
from service.usecases.context import build_context
from tests.conftest import make_config
from tests.helpers import claim, put_policies

pytestmark = pytest.mark.integration


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_redis_unreachable_claim_still_accepted(sqlite_url, tmp_path, clock):
    redis_url = f"redis://127.0.0.1:{closed_port()}/0"
    config = make_config(sqlite_url, tmp_path, REDIS_URL=redis_url)
    ctx = build_context(config, RQDispatcher(redis_url))
    ctx.clock = clock
    client = create_app(config, ctx).test_client()
    put_policies(client, ["P-DEV"])
    response = client.post("/v1/claims", json=claim())
    assert response.status_code == 201, response.get_json()
    claim_id = response.get_json()["id"]
    with ctx.unit_of_work() as session:
        rows = session.scalars(select(OutboxRow).where(OutboxRow.claim_id == claim_id)).all()
    assert len(rows) == 2 and all(r.status == "pending" for r in rows)
    assert client.get("/readyz").status_code == 503


def test_database_unreachable_is_503_with_retry_after(tmp_path, clock):
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/none"
    config = make_config(url, tmp_path)
    ctx = build_context(config)
    ctx.clock = clock
    client = create_app(config, ctx).test_client()
    response = client.post("/v1/claims", json=claim())
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert response.mimetype == "application/problem+json"
    assert "Traceback" not in response.get_data(as_text=True)
    assert client.get("/v1/claims").status_code == 503
    assert client.get("/healthz").status_code == 200


def test_engine_failure_is_503_and_stores_nothing(client, context, monkeypatch):
    from sqlalchemy import func

    from service.db.tables import ClaimRow
    from service.rules.engine import EngineFailure

    put_policies(client, ["P-DEV"])
    engine = context.engine

    def broken(facts):
        raise EngineFailure("code 303")

    monkeypatch.setattr(engine, "evaluate_with_ruleset", broken)
    response = client.post("/v1/claims", json=claim(), headers={"Idempotency-Key": "k-503"})
    assert response.status_code == 503
    assert response.get_json()["code"] == "engine_unavailable"
    assert response.headers["Retry-After"] == "5"
    with context.unit_of_work() as session:
        assert session.scalar(select(func.count()).select_from(ClaimRow)) == 0
    monkeypatch.undo()
    retried = client.post("/v1/claims", json=claim(), headers={"Idempotency-Key": "k-503"})
    assert retried.status_code == 201  # the key was released, the retry goes through
