"""Property-based fuzzing with the shapes that once gave a 500 (issue 13 point 4): deep
nesting, huge exponents and long digit runs, lone surrogates, NUL and other control
characters in body fields, paths, headers and query strings, on SQLite and PostgreSQL.

Every answer is below 500, and every 4xx from the API is problem+json. Bounded and
derandomized (FUZZ_EXAMPLES, default 40 per test; FUZZ_RANDOM=1 to explore).
"""

from __future__ import annotations

import json
import os
from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from service.api.text_fields import RequestSchema
from tests.auth_helpers import key
from tests.helpers import claim, put_policies

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FUZZ = settings(
    max_examples=int(os.environ.get("FUZZ_EXAMPLES", "40")),
    derandomize=not os.environ.get("FUZZ_RANDOM"),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

NASTY = [
    "\x00",
    "\udfff",
    "a\ud800b",
    "\x1b[31m",
    "\x07",
    "\x7f",
    "\u202eevil",
    "\r\n",
    "\t",
    "\ufeff",
    "\uffff",
    "%00",
    "../../etc/passwd",
    "x" * 5000,
]
# Any code point, surrogates and controls included.
anything = st.characters(codec=None, categories=None, exclude_categories=())
hostile_text = st.one_of(
    st.sampled_from(NASTY),
    st.text(alphabet=anything, max_size=40),
    st.builds(
        lambda a, b, c: a + b + c, st.text(max_size=8), st.sampled_from(NASTY), st.text(max_size=8)
    ),
)
huge_number = st.sampled_from(
    ["1e999999999", "-1e999999999", "1e-999999999", "9" * 4400, "1E+400", "-0", "1.0e5", "0e0"]
)
BODY_PATHS = [
    "external_ref",
    "policy_number",
    "claim_type",
    "date_of_loss",
    "reported_at",
    "amount",
    "currency",
    "description",
    "claimant.name",
    "claimant.email",
    "claimant.phone",
    "claimant.preferred_language",
    "documents.0.type",
    "documents.0.ref",
    "callback_url",
    "line_items.0.description",
    "line_items.0.amount",
]


def check(response, api: bool = True) -> None:
    text = response.get_data(as_text=True)
    assert response.status_code < 500, text[:500]
    if api and response.status_code >= 400:
        assert response.mimetype == "application/problem+json", text[:500]
    assert "Traceback" not in text


def set_path(body: dict, path: str, value: Any) -> None:
    target: Any = body
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    if isinstance(target, list):
        target[int(last)] = value
    else:
        target[last] = value


@pytest.fixture
def admin(app) -> dict[str, str]:
    """One admin key for all the examples of a test."""
    return key(app, "admin", "fuzz-admin")


@pytest.fixture
def policies(client) -> None:
    put_policies(client, ["P-DEV"])


def base_body() -> dict:
    body = claim(callback_url="https://intake.example.com/hook")
    body["line_items"] = [{"code": "A1", "description": "screen", "amount": "300.00"}]
    return body


@FUZZ
@given(path=st.sampled_from(BODY_PATHS), value=hostile_text)
def test_hostile_text_in_any_body_field(client, policies, path, value):
    body = base_body()
    set_path(body, path, value)
    check(client.post("/v1/claims", data=json.dumps(body), content_type="application/json"))


MONEY_PATHS = ["amount", "line_items.0.amount"]


def post_with_number(client, path: str, number: str):
    body = base_body()
    set_path(body, path, "@@N@@")
    raw = json.dumps(body).replace('"@@N@@"', number)
    return client.post("/v1/claims", data=raw, content_type="application/json")


@FUZZ
@given(path=st.sampled_from([p for p in BODY_PATHS if p not in MONEY_PATHS]), number=huge_number)
def test_huge_numbers_in_any_body_field(client, policies, path, number):
    check(post_with_number(client, path, number))


@FUZZ
@given(path=st.sampled_from(MONEY_PATHS), number=huge_number)
def test_huge_numbers_in_money_fields(client, policies, path, number):
    check(post_with_number(client, path, number))


@FUZZ
@given(
    depth=st.integers(min_value=20, max_value=50_000),
    opener=st.sampled_from(["[", '{"a":']),
    where=st.sampled_from(["/v1/claims", "/v1/policies/P-FUZZ", "/v1/rulesets/backtest"]),
)
def test_deep_nesting_anywhere(client, admin, depth, opener, where):
    closer = "]" if opener == "[" else "}"
    raw = opener * depth + "1" + closer * depth
    method = "PUT" if "policies" in where else "POST"
    check(
        client.open(where, method=method, data=raw, content_type="application/json", headers=admin)
    )
    inside = json.dumps(base_body()).replace(
        '"Screen cracked"', opener * depth + "1" + closer * depth
    )
    check(client.post("/v1/claims", data=inside, content_type="application/json"))


@FUZZ
@given(
    segment=hostile_text,
    template=st.sampled_from(
        [
            "/v1/claims/{}",
            "/v1/claims/{}/documents",
            "/v1/claims/{}/decision",
            "/v1/claims/{}/appeal",
            "/v1/policies/{}",
            "/v1/rulesets/{}",
            "/v1/rulesets/backtest/{}",
            "/v1/escalations/{}/assign",
            "/v1/reports/bordereau/{}",
            "/v1/apikeys/{}/revoke",
        ]
    ),
)
def test_hostile_text_in_paths(client, admin, segment, template):
    path = template.format(quote(segment.encode("utf-8", "surrogatepass"), safe=""))
    for method in ("GET", "POST", "PUT"):
        check(client.open(path, method=method, json={}, headers=admin))


latin1 = st.characters(min_codepoint=0, max_codepoint=255, exclude_characters="\r\n")
header_value = st.builds(
    lambda prefix, tail: prefix + tail,
    st.sampled_from(["", "Bearer ", "Bearer ck_", "Bearer ck_live_0a1b2c3d.", '"', 'W/"']),
    st.one_of(st.sampled_from(["\x00", "\x01x", "k\x00ey", "\x7f"]), st.text(latin1, max_size=60)),
)


@FUZZ
@given(
    name=st.sampled_from(
        ["Idempotency-Key", "X-Request-ID", "If-Match", "Authorization", "Accept", "X-Anything"]
    ),
    value=header_value,
)
def test_hostile_header_values(client, policies, name, value):
    check(client.post("/v1/claims", json=claim(), headers={name: value}))
    check(client.get("/v1/claims", headers={name: value}))


QUERY_KEYS = ["policy_number", "claim_type", "status", "since", "until", "cursor", "limit"]
QUERY_KEYS += ["reason", "assignee", "actor", "action", "claim_id", "after_id", "overdue"]


@FUZZ
@given(
    pairs=st.lists(
        st.tuples(st.one_of(st.sampled_from(QUERY_KEYS), hostile_text), hostile_text),
        min_size=1,
        max_size=4,
    ),
    where=st.sampled_from(
        ["/v1/claims", "/v1/escalations", "/v1/audit", "/v1/outbox/dead", "/v1/rulesets"]
    ),
)
def test_hostile_query_strings(client, admin, pairs, where):
    def enc(text: str) -> str:
        return quote(text.encode("utf-8", "surrogatepass"), safe="")

    query = "&".join(f"{enc(k)}={enc(v)}" for k, v in pairs)
    check(client.get(f"{where}?{query}", headers=admin))


def test_every_request_schema_checks_its_text(app):
    """The one place: every schema a view reads a request with derives from RequestSchema."""
    checked = 0
    for name, view in app.view_functions.items():
        doc = getattr(view, "_apidoc", {}) or {}
        for argument in doc.get("arguments", {}).get("parameters", []):
            schema = argument["schema"]
            assert isinstance(schema, RequestSchema), f"{name}: {type(schema).__name__}"
            checked += 1
    assert checked >= 10
