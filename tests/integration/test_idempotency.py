"""Retries are safe: Idempotency-Key and external_ref, on SQLite and PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from service.db.tables import ClaimRow, IdempotencyKeyRow
from tests.helpers import claim, put_policies

pytestmark = pytest.mark.integration


def count_claims(context) -> int:
    with context.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(ClaimRow))


def test_replay_returns_the_original_decision(client, context):
    put_policies(client, ["P-DEV"])
    body = claim()
    first = client.post("/v1/claims", json=body, headers={"Idempotency-Key": "k-1"})
    again = client.post("/v1/claims", json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == again.status_code == 201
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.get_json() == first.get_json()
    assert count_claims(context) == 1


def test_same_key_different_body_is_422(client, context):
    put_policies(client, ["P-DEV"])
    body = claim()
    client.post("/v1/claims", json=body, headers={"Idempotency-Key": "k-2"})
    changed = dict(body, amount="301.00")
    response = client.post("/v1/claims", json=changed, headers={"Idempotency-Key": "k-2"})
    assert response.status_code == 422
    assert response.get_json()["code"] == "idempotency_key_reused"
    assert count_claims(context) == 1


def test_key_in_flight_is_409(client, context, clock):
    import json
    from decimal import Decimal

    from service.api.schemas import ClaimSchema
    from service.usecases.submit_claim import body_hash

    put_policies(client, ["P-DEV"])
    body = claim()
    loaded = ClaimSchema().load(json.loads(json.dumps(body), parse_float=Decimal))
    with context.unit_of_work() as session:  # the first request holds the key right now
        session.add(
            IdempotencyKeyRow(
                client_id="default",
                key="k-3",
                state="in_flight",
                request_hash=body_hash(loaded),
                created_at=clock.now(),
            )
        )
        session.commit()
    response = client.post("/v1/claims", json=body, headers={"Idempotency-Key": "k-3"})
    assert response.status_code == 409
    assert response.headers["Retry-After"] == "1"
    assert response.get_json()["code"] == "request_in_flight"
    assert count_claims(context) == 0


def test_abandoned_in_flight_key_is_taken_over(client, context, clock):
    put_policies(client, ["P-DEV"])
    with context.unit_of_work() as session:
        session.add(
            IdempotencyKeyRow(
                client_id="default",
                key="k-4",
                state="in_flight",
                request_hash="h",
                created_at=clock.now() - timedelta(minutes=5),
            )
        )
        session.commit()
    response = client.post("/v1/claims", json=claim(), headers={"Idempotency-Key": "k-4"})
    assert response.status_code == 201


def test_external_ref_replay_and_conflict(client, context):
    put_policies(client, ["P-DEV"])
    body = claim()
    first = client.post("/v1/claims", json=body)
    replay = client.post("/v1/claims", json=body)
    assert replay.status_code == 201 and replay.headers["Idempotent-Replayed"] == "true"
    assert replay.get_json()["id"] == first.get_json()["id"]
    conflict = client.post("/v1/claims", json=dict(body, amount="999.00"))
    assert conflict.status_code == 409
    assert conflict.get_json()["code"] == "external_ref_conflict"
    assert count_claims(context) == 1


def test_fifty_concurrent_posts_with_one_key_leave_one_claim(app, context):
    client = app.test_client()
    put_policies(client, ["P-DEV"])
    body = claim()

    def post(_: int) -> tuple[int, str | None]:
        response = app.test_client().post(
            "/v1/claims", json=body, headers={"Idempotency-Key": "same-key"}
        )
        return response.status_code, (response.get_json() or {}).get("id")

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(post, range(50)))
    statuses = {status for status, _ in results}
    assert statuses <= {201, 409}, results
    assert len({cid for status, cid in results if status == 201}) == 1
    assert count_claims(context) == 1


def test_fifty_concurrent_posts_with_one_external_ref_leave_one_claim(app, context):
    client = app.test_client()
    put_policies(client, ["P-DEV"])
    body = claim()

    def post(_: int) -> tuple[int, str | None]:
        response = app.test_client().post("/v1/claims", json=body)
        return response.status_code, (response.get_json() or {}).get("id")

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(post, range(50)))
    assert {status for status, _ in results} == {201}, results
    assert len({cid for _, cid in results}) == 1
    assert count_claims(context) == 1
