"""Builders for policies and claims used across the tests."""

from __future__ import annotations

import itertools
from typing import Any

_refs = itertools.count(1)

REQUIRED_DOCS = {
    "device_damage": ["purchase_receipt", "photos"],
    "device_theft": ["police_report", "purchase_receipt"],
    "water_damage": ["photos", "scope_notes", "estimate"],
    "fire_damage": ["photos", "estimate", "fire_report"],
    "medical_reimbursement": ["invoice", "medical_report"],
}


def coverage(
    claim_type: str, limit: str, aggregate: str, deductible: str, wait: dict | None = None
) -> dict:
    return {
        "claim_type": claim_type,
        "limit_per_claim": limit,
        "annual_aggregate": aggregate,
        "deductible": deductible,
        "waiting_period": wait or {"days": 0},
    }


POLICIES: dict[str, dict[str, Any]] = {
    "P-DEV": {
        "holder": "Dana Device",
        "status": "active",
        "effective_from": "2026-01-01",
        "effective_to": "2026-12-31",
        "currency": "USD",
        "coverages": [
            coverage("device_damage", "800", "2000", "50"),
            coverage("device_theft", "1500", "3000", "100", wait={"months": 1}),
        ],
    },
    "P-PROP": {
        "holder": "Pat Property",
        "status": "active",
        "effective_from": "2025-07-01",
        "effective_to": "2026-06-30",
        "currency": "EUR",
        "coverages": [
            coverage("water_damage", "20000", "50000", "500"),
            coverage("fire_damage", "50000", "100000", "1000"),
        ],
    },
    "P-MED": {
        "holder": "Mai Medical",
        "status": "active",
        "effective_from": "2026-01-01",
        "effective_to": "2026-12-31",
        "currency": "USD",
        "coverages": [coverage("medical_reimbursement", "5000", "10000", "0")],
    },
    "P-LAPSED": {
        "holder": "Lee Lapsed",
        "status": "lapsed",
        "effective_from": "2026-01-01",
        "effective_to": "2026-12-31",
        "terminated_on": "2026-03-31",
        "currency": "USD",
        "coverages": [coverage("device_damage", "800", "2000", "50")],
    },
    "P-ENDED": {
        "holder": "Eve Ended",
        "status": "active",
        "effective_from": "2025-01-01",
        "effective_to": "2025-12-31",
        "currency": "USD",
        "coverages": [coverage("device_damage", "800", "2000", "50")],
    },
    "P-FUTURE": {
        "holder": "Fay Future",
        "status": "active",
        "effective_from": "2026-09-01",
        "effective_to": "2027-08-31",
        "currency": "USD",
        "coverages": [coverage("device_damage", "800", "2000", "50")],
    },
}


def claim(
    policy_number: str = "P-DEV",
    claim_type: str = "device_damage",
    amount: str = "300.00",
    date_of_loss: str = "2026-06-10",
    *,
    documents: list[str] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    docs = REQUIRED_DOCS.get(claim_type, []) if documents is None else documents
    body: dict[str, Any] = {
        "external_ref": f"EXT-{next(_refs)}",
        "policy_number": policy_number,
        "claim_type": claim_type,
        "date_of_loss": date_of_loss,
        "amount": amount,
        "currency": POLICIES.get(policy_number, {}).get("currency", "USD"),
        "description": "Screen cracked",
        "claimant": {
            "name": "Sam Claimant",
            "email": "sam@example.com",
            "preferred_language": "en",
        },
        "documents": [{"type": d, "ref": f"s3://docs/{d}.pdf"} for d in docs],
    }
    body.update(extra)
    return body


def rules_without(folder: Any, *rule_ids: str) -> Any:
    """A copy of the shipped rule files (and fee schedules) in `folder` without the
    named rules (many claims on one policy in a day would all meet FREQUENT_CLAIMS)."""
    import shutil
    from pathlib import Path

    import yaml

    root = Path(__file__).resolve().parents[1] / "rules"
    folder = Path(folder)
    folder.mkdir()
    for path in root.glob("*.yaml"):
        doc = yaml.safe_load(path.read_text())
        if doc.get("rules"):
            doc["rules"] = [r for r in doc["rules"] if r["id"] not in rule_ids]
        (folder / path.name).write_text(yaml.safe_dump(doc, sort_keys=False))
    shutil.copytree(root / "fee_schedules", folder / "fee_schedules")
    return folder


def put_policies(client: Any, numbers: list[str] | None = None) -> None:
    for number in numbers or list(POLICIES):
        response = client.put(f"/v1/policies/{number}", json=POLICIES[number])
        assert response.status_code in (200, 201), response.get_json()


def codes(decision: dict[str, Any]) -> set[str]:
    return {r["code"] for r in decision["reasons"]}


def carcs(decision: dict[str, Any]) -> set[str]:
    return {r["carc"] for r in decision["reasons"] if r.get("carc")}
