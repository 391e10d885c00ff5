"""Fuzzing: schemathesis against the app's own /openapi.json, through the WSGI app (SQLite).

Bounded (30 examples per operation, no deadline) and derandomized, so the suite
gives the same answer every run. Explore further with random examples:
FUZZ_RANDOM=1 FUZZ_EXAMPLES=500 pytest tests/integration/test_fuzz_api.py
Checks: no 5xx, and every response conforms to the schema documented for it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, response_schema_conformance

from tests.conftest import make_config
from tests.helpers import POLICIES

pytestmark = [pytest.mark.integration, pytest.mark.slow]

ADMIN_KEY = "ck_fuzzadmin.fuzz-secret-0123456789abcdef"


@pytest.fixture
def fuzz_app(sqlite_url: str, tmp_path: Path) -> Any:
    from service.api.app import create_app
    from service.usecases.context import build_context

    config = make_config(sqlite_url, tmp_path, RATE_LIMIT="1000000/minute")
    ctx = build_context(config)
    try:
        from service.usecases.manage_api_keys import ensure_api_key
    except ImportError:  # an API without keys
        pass
    else:
        ensure_api_key(ctx, ADMIN_KEY, "fuzz", "admin")
    app = create_app(config, ctx)
    app.testing = True
    client = app.test_client()
    for number, body in POLICIES.items():  # something to find for the GETs
        client.put(f"/v1/policies/{number}", json=body, headers=_headers())
    return app


@pytest.fixture
def api_schema(fuzz_app: Any) -> Any:
    return schemathesis.openapi.from_wsgi("/openapi.json", fuzz_app)


def _headers() -> dict[str, str]:
    return {"Authorization": f"Bearer {ADMIN_KEY}"}


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "30")),
    derandomize=not os.environ.get("FUZZ_RANDOM"),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_no_server_error_and_responses_match_the_schema(case: Any) -> None:
    case.call_and_validate(
        headers=_headers(), checks=[not_a_server_error, response_schema_conformance]
    )
