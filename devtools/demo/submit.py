"""The sample policies and claims, over HTTP as an intake system sends them.

Claims already in the database (an earlier run on the same instance folder) are not
sent again: their first decision is read back and shown, so the table tells the same
story on every run. Returns whether every request succeeded.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import requests

from devtools.demo import samples
from devtools.demo.table import print_table
from devtools.localservices import say


def submit_samples(base: str, key: str) -> bool:
    today = datetime.now(UTC).date()
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {key}"
    claims = samples.claims(today)
    stored = _stored_claims(http, base)
    missing = [s for s in claims if s.payload["external_ref"] not in stored]
    failures = 0
    if missing:
        policies = samples.policies(today)
        say(f"loading {len(policies)} sample policies (PUT /v1/policies/<number>)")
        for policy in policies:
            resp = http.put(f"{base}/v1/policies/{policy.number}", json=policy.body, timeout=15)
            if resp.status_code not in (200, 201):
                failures += 1
                print(f"error: PUT {policy.number}: HTTP {resp.status_code} {_detail(resp)}")
    if len(missing) < len(claims):
        say(
            f"{len(claims) - len(missing)} sample claims are in the database from an earlier "
            "run: showing their first decision (make demo ARGS=--fresh starts from nothing)"
        )
    if missing:
        say(f"submitting {len(missing)} sample claims (POST /v1/claims)")
    rows: list[tuple[samples.SampleClaim, int, dict[str, Any]]] = []
    for sample in claims:
        ref = sample.payload["external_ref"]
        if ref in stored:
            rows.append((sample, 201, _first_decision(http, base, stored[ref])))
            continue
        resp = http.post(f"{base}/v1/claims", json=sample.payload, timeout=30)
        failures += resp.status_code != 201
        rows.append((sample, resp.status_code, _json(resp)))
    mismatches = print_table(rows)
    if mismatches:
        say(f"{mismatches} decision(s) differ from what the sample expected (marked !)")
    if failures:
        say(f"{failures} request(s) failed")
    return failures == 0


def _stored_claims(http: requests.Session, base: str) -> dict[str, str]:
    """external_ref -> id of the claims this intake client already has."""
    found: dict[str, str] = {}
    params: dict[str, Any] = {"limit": 200}
    while True:
        page = _json(http.get(f"{base}/v1/claims", params=params, timeout=15))
        found.update({item["external_ref"]: item["id"] for item in page.get("items") or []})
        if not page.get("next_cursor"):
            return found
        params["cursor"] = page["next_cursor"]


def _first_decision(http: requests.Session, base: str, claim_id: str) -> dict[str, Any]:
    document = _json(http.get(f"{base}/v1/claims/{claim_id}", timeout=15))
    decisions = document.get("decisions") or []
    return {**document, "decision": decisions[0] if decisions else document.get("decision")}


def _json(resp: requests.Response) -> dict[str, Any]:
    try:
        body = resp.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _detail(resp: requests.Response) -> str:
    body = _json(resp)
    return str(body.get("detail") or body.get("title") or resp.text[:200])
