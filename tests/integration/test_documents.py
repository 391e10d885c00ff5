"""Documents arriving later decide a pending claim again; elsewhere they are only attached."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from service.db.tables import OutboxRow
from tests.helpers import claim, put_policies

pytestmark = pytest.mark.integration


def test_missing_documents_arrive_and_the_claim_is_decided(client, context):
    put_policies(client, ["P-DEV"])
    created = client.post("/v1/claims", json=claim(documents=["photos"])).get_json()
    assert created["status"] == "pending_info"
    assert created["decision"]["missing_documents"] == ["purchase_receipt"]
    url = f"/v1/claims/{created['id']}/documents"
    response = client.post(url, json={"documents": [{"type": "purchase_receipt", "ref": "r-1"}]})
    assert response.status_code == 200, response.get_json()
    after = response.get_json()
    assert after["status"] == "approved"
    assert after["decision"]["payable_amount"] == "250.00"
    detail = client.get(f"/v1/claims/{created['id']}").get_json()
    assert [d["outcome"] for d in detail["decisions"]] == ["pending_info", "approved"]
    with context.unit_of_work() as session:
        events = session.scalars(
            select(OutboxRow.event).where(OutboxRow.claim_id == created["id"])
        ).all()
    assert sorted(events) == ["acknowledgment", "approved", "information_requested"]


def test_same_document_twice_changes_nothing(client):
    put_policies(client, ["P-DEV"])
    created = client.post("/v1/claims", json=claim()).get_json()
    url = f"/v1/claims/{created['id']}/documents"
    doc = {"documents": [{"type": "photos", "ref": "extra-1"}]}
    first = client.post(url, json=doc).get_json()
    second = client.post(url, json=doc).get_json()
    assert len(first["documents"]) == len(second["documents"]) == 3
    assert second["status"] == "approved"


def test_documents_for_unknown_claim_is_404(client):
    response = client.post(
        "/v1/claims/nope/documents", json={"documents": [{"type": "photos", "ref": "x"}]}
    )
    assert response.status_code == 404


def test_empty_document_list_is_422(client):
    put_policies(client, ["P-DEV"])
    created = client.post("/v1/claims", json=claim()).get_json()
    response = client.post(f"/v1/claims/{created['id']}/documents", json={"documents": []})
    assert response.status_code == 422


def test_documents_add_up_to_at_most_100_per_claim(client):
    """Finding 7: 100 documents per claim across every submission; beyond, 422 and
    nothing added."""
    put_policies(client, ["P-DEV"])
    created = client.post("/v1/claims", json=claim()).get_json()
    url = f"/v1/claims/{created['id']}/documents"
    have = len(created["documents"])
    batch = [{"type": "photos", "ref": f"p-{i}"} for i in range(100 - have)]
    assert client.post(url, json={"documents": batch}).status_code == 200
    again = client.post(url, json={"documents": batch}).get_json()  # all known: fine
    assert len(again["documents"]) == 100
    over = client.post(url, json={"documents": [{"type": "photos", "ref": "one-more"}]})
    assert over.status_code == 422 and over.mimetype == "application/problem+json"
    assert over.get_json()["code"] == "too_many_documents"
    assert len(client.get(f"/v1/claims/{created['id']}").get_json()["documents"]) == 100
