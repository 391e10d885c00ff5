"""A claim posted over real HTTP to `claims serve` is decided, readable, and survives a restart."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.conftest import Server, api_headers
from tests.helpers import POLICIES, claim

pytestmark = pytest.mark.e2e


def test_claim_survives_a_restart(service_env):
    headers = api_headers(service_env)
    server = Server(service_env).start()
    try:
        put = requests.put(
            f"{server.url}/v1/policies/P-DEV", json=POLICIES["P-DEV"], headers=headers, timeout=10
        )
        assert put.status_code == 201, put.text
        body = claim("P-DEV", reported_at="2026-06-12T09:00:00+00:00")
        posted = requests.post(f"{server.url}/v1/claims", json=body, headers=headers, timeout=10)
        assert posted.status_code == 201, posted.text
        assert posted.headers["X-Request-ID"]
        created = posted.json()
        assert created["decision"]["outcome"] == "approved"
        assert created["decision"]["payable_amount"] == "250.00"
    finally:
        server.stop()

    again = Server(service_env).start()
    try:
        read = requests.get(f"{again.url}/v1/claims/{created['id']}", headers=headers, timeout=10)
        assert read.status_code == 200
        assert read.json()["status"] == "approved"
        assert read.json()["decision"]["reasons"] == created["decision"]["reasons"]
        spec = requests.get(f"{again.url}/openapi.json", timeout=10).json()
        assert "/v1/claims" in spec["paths"]
        assert requests.get(f"{again.url}/readyz", timeout=10).status_code == 200
        metrics = requests.get(f"{again.url}/metrics", timeout=10)
        assert metrics.status_code == 200
    finally:
        again.stop()
