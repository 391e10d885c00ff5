"""Hostile and careless input gets a 4xx problem (never a 500) and changes nothing,
on SQLite and PostgreSQL (issue 13 point 4, issue 12 point 9)."""

from __future__ import annotations

import io
import json
import re

import pytest
from sqlalchemy import func, select

from service.db.tables import ClaimRow, PolicyRow
from tests.auth_helpers import key
from tests.helpers import POLICIES, claim, put_policies

pytestmark = pytest.mark.integration


def stored(context, table) -> int:
    with context.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(table))


def assert_problem(response, status: int | None = None) -> dict:
    text = response.get_data(as_text=True)
    assert response.status_code < 500, text
    assert 400 <= response.status_code, text
    if status is not None:
        assert response.status_code == status, text
    assert response.mimetype == "application/problem+json", text
    assert "Traceback" not in text
    return response.get_json()


def post_raw(client, path: str, raw: str | bytes, method: str = "POST"):
    return client.open(path, method=method, data=raw, content_type="application/json")


def fields_named(problem: dict) -> set[str]:
    return {e["field"] for e in problem.get("errors", [])}


# --- body shape -----------------------------------------------------------------------


@pytest.mark.parametrize("depth", [40, 1_000, 100_000])
def test_deeply_nested_body_is_400(client, context, depth):
    raw = "[" * depth + "]" * depth
    problem = assert_problem(post_raw(client, "/v1/claims", raw), 400)
    assert problem["code"] == "json_too_deep"
    body = json.dumps(claim()).replace('"description": "Screen cracked"', '"x": ' + raw)
    assert_problem(post_raw(client, "/v1/claims", body), 400)
    assert stored(context, ClaimRow) == 0


def test_nesting_the_service_uses_is_accepted(client):
    put_policies(client, ["P-DEV"])
    body = claim(line_items=[{"code": "A", "description": "screen", "amount": "300.00"}])
    assert client.post("/v1/claims", json=body).status_code == 201


def test_a_422_lists_at_most_50_errors_and_says_how_many_more(client, context):
    body = claim()
    body.update({f"k{i}": 1 for i in range(75_000)})
    raw = json.dumps(body, separators=(",", ":"))
    assert len(raw) < 1_048_576
    response = post_raw(client, "/v1/claims", raw)
    problem = assert_problem(response, 422)
    assert len(problem["errors"]) == 50
    assert problem["more_errors"] == 75_000 - 50
    assert "first 50" in problem["detail"]
    assert len(response.get_data()) < 20_000
    assert stored(context, ClaimRow) == 0


def test_huge_unknown_key_is_quoted_back_short(client):
    body = claim()
    body["\x00" + "k" * 100_000] = 1
    problem = assert_problem(client.post("/v1/claims", json=body), 422)
    assert all(len(e["field"]) < 300 for e in problem["errors"])


def test_chunked_body_over_the_limit_is_413_not_malformed_json(client, context):
    big = json.dumps(claim(description="x" * (1024 * 1024 + 10))).encode()
    response = client.post(
        "/v1/claims",
        input_stream=io.BytesIO(big),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert_problem(response, 413)
    assert stored(context, ClaimRow) == 0


def test_chunked_body_within_the_limit_is_read_whole(client, context):
    put_policies(client, ["P-DEV"])
    raw = json.dumps(claim()).encode()
    response = client.post(
        "/v1/claims",
        input_stream=io.BytesIO(raw),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )
    assert response.status_code == 201, response.get_data(as_text=True)


# --- text the database and the letters can carry ---------------------------------------


BAD_TEXT = {  # every other kind: tests/unit/test_text.py
    "lone surrogate": "\\udfff",
    "NUL": "x\\u0000y",
    "escape": "x\\u001by",
}


def _with_value(body: dict, path: str, escaped: str) -> str:
    """The body as JSON with the string at `path` replaced by a raw JSON escape."""
    marker = "@@MARKER@@"
    target = body
    *parents, last = path.split(".")
    for part in parents:
        target = target[int(part)] if isinstance(target, list) else target[part]
    target[last] = marker
    return json.dumps(body).replace(f'"{marker}"', f'"{escaped}"')


@pytest.mark.parametrize("what", BAD_TEXT)
@pytest.mark.parametrize(
    "path",
    [
        "external_ref",
        "description",
        "policy_number",
        "claimant.name",
        "claimant.phone",
        "documents.0.ref",
        "callback_url",
    ],
)
def test_unstorable_text_in_a_claim_is_422_naming_the_field(client, context, what, path):
    put_policies(client, ["P-DEV"])
    body = claim(callback_url="https://intake.example.com/hook")
    problem = assert_problem(
        post_raw(client, "/v1/claims", _with_value(body, path, BAD_TEXT[what])), 422
    )
    assert path in fields_named(problem), problem
    assert stored(context, ClaimRow) == 0


@pytest.mark.parametrize("what", BAD_TEXT)
@pytest.mark.parametrize("path", ["holder", "coverages.0.claim_type"])
def test_unstorable_text_in_a_policy_is_422_naming_the_field(client, context, what, path):
    body = json.loads(json.dumps(POLICIES["P-DEV"]))
    problem = assert_problem(
        post_raw(client, "/v1/policies/P-NEW", _with_value(body, path, BAD_TEXT[what]), "PUT"),
        422,
    )
    assert path in fields_named(problem), problem
    assert stored(context, PolicyRow) == 0


def test_unstorable_text_in_a_key_is_422(client, context):
    raw = json.dumps(claim())[:-1] + ', "bad\\u0000key": 1}'
    assert_problem(post_raw(client, "/v1/claims", raw), 422)
    assert stored(context, ClaimRow) == 0


def test_free_text_keeps_tab_and_line_breaks_but_names_stay_on_one_line(client, context):
    put_policies(client, ["P-DEV"])
    body = claim(description="Dropped it.\r\n\tScreen cracked\nand bent")
    created = client.post("/v1/claims", json=body)
    assert created.status_code == 201, created.get_data(as_text=True)
    assert created.get_json()["description"] == "Dropped it.\r\n\tScreen cracked\nand bent"
    body = claim()
    body["claimant"]["name"] = "Sam\nBcc: someone"
    problem = assert_problem(client.post("/v1/claims", json=body), 422)
    assert fields_named(problem) == {"claimant.name"}


def test_unstorable_text_in_supervisor_and_appeal_bodies(app, client, context):
    put_policies(client, ["P-DEV"])
    claim_id = client.post("/v1/claims", json=claim()).get_json()["id"]
    sup = key(app, "supervisor")
    raw = '{"outcome": "reject", "note": "no\\u0000pe", "reason_codes": ["carc_27"]}'
    response = client.open(
        f"/v1/claims/{claim_id}/decision",
        method="POST",
        data=raw,
        content_type="application/json",
        headers={**sup, "If-Match": '"1"'},
    )
    assert "note" in fields_named(assert_problem(response, 422))
    raw = '{"reason": "I disagree \\udfff"}'
    assert "reason" in fields_named(
        assert_problem(post_raw(client, f"/v1/claims/{claim_id}/appeal", raw), 422)
    )


@pytest.mark.parametrize(
    "path",
    [
        "/v1/claims/%00",
        "/v1/claims/a%00b/documents",
        "/v1/policies/%00",
        "/v1/policies/P%01",
        "/v1/rulesets/%00",
        "/v1/claims/%1b%5b31m",
        "/console/claims/%00",
    ],
)
def test_control_characters_in_a_path_are_4xx(app, client, path):
    admin = key(app, "admin")
    for method in ("GET", "POST", "PUT"):
        response = client.open(path, method=method, headers=admin, json={})
        problem = assert_problem(response)
        if response.status_code == 422:
            assert problem["errors"][0]["field"] in {"claim_id", "number", "version"}


def test_nul_in_a_path_names_the_parameter(app, client):
    problem = assert_problem(client.get("/v1/claims/%00", headers=key(app, "admin")), 422)
    assert fields_named(problem) == {"claim_id"}


@pytest.mark.parametrize(
    "query",
    [
        "policy_number=%00",
        "cursor=%00",
        "since=2026-01-01T00:00:00%00",
        "status=approved&policy_number=P%1b",
        "x%00=1",
    ],
)
def test_control_characters_in_a_query_string_are_422(app, client, query):
    admin = key(app, "admin")
    for path in ("/v1/claims", "/v1/escalations", "/v1/audit"):
        assert_problem(client.get(f"{path}?{query}", headers=admin), 422)
    assert client.get(f"/console/queue?{query}", headers=admin).status_code == 422  # a page


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer ck_\x00.secretsecretsecretsecret"},
        {"Authorization": "Bearer ck_live_0000000\x01.secretsecretsecret"},
        {"Idempotency-Key": "key\x00one"},
        {"X-Request-ID": "\x00"},
        {"If-Match": '"1\x00"'},
    ],
)
def test_control_characters_in_headers_are_4xx(client, context, headers):
    put_policies(client, ["P-DEV"])
    response = client.post("/v1/claims", json=claim(), headers=headers)
    assert_problem(response)
    assert stored(context, ClaimRow) == 0


def test_console_login_with_nul_in_the_username_is_4xx(client):
    client.default_auth = False
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/console/login", data={"username": "sue\x00", "password": "x", "csrf_token": token}
    )
    assert 400 <= response.status_code < 500


# --- reports and redirects -------------------------------------------------------------


@pytest.mark.parametrize("month", ["0000-01", "0001-01", "1899-12", "9999-12", "2026-13"])
def test_bordereau_of_an_impossible_month_is_422(app, client, month):
    response = client.get(f"/v1/reports/bordereau/{month}", headers=key(app, "finance"))
    problem = assert_problem(response, 422)
    assert problem["code"] == "bad_month"


@pytest.mark.parametrize(
    "target",
    [
        "/console/queue\r\nSet-Cookie: evil=1",
        "/console/\nqueue",
        "/console/%0d%0aX: y",
        "/console/\\evil.example",
        "/console/../\\\\evil.example",
        "//evil.example/console/",
        "https://evil.example/console/",
        "/console/%2e%2e/v1/evil",  # finding 14: a browser reads %2e%2e as ..
        "/console/%2E%2e/%2e%2E/evil",
        "/console/.%2e/evil",
        "/console/..%2fevil",
        "/console/%2e/../evil",
    ],
)
def test_console_login_next_with_line_breaks_redirects_safely(app, client, target):
    from tests.auth_helpers import PASSWORD, user

    user(app, "sue", "supervisor")
    client.default_auth = False
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/console/login",
        data={"username": "sue", "password": PASSWORD, "csrf_token": token, "next": target},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert "\r" not in location and "\n" not in location and "evil" not in location
    assert location.startswith("/console/")
    assert "Set-Cookie: evil" not in str(response.headers)


def test_console_login_keeps_a_plain_next(app, client):
    from tests.auth_helpers import PASSWORD, user

    user(app, "sue", "supervisor")
    client.default_auth = False
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    response = client.post(
        "/console/login",
        data={
            "username": "sue",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "/console/queue?overdue=1",
        },
    )
    assert response.headers["Location"] == "/console/queue?overdue=1"


# --- digits (hardening, finding 8) ----------------------------------------------------

ARABIC_30 = "\u0663\u0660"  # "٣٠": int() reads it as 30
ARABIC_YEAR = "\u0662\u0660\u0662\u0666"  # "٢٠٢٦"


def test_numbers_and_dates_as_text_take_ascii_digits_only(client, context):
    put_policies(client, ["P-DEV"])
    policy = json.loads(json.dumps(POLICIES["P-DEV"]))
    policy["coverages"][0]["waiting_period_days"] = ARABIC_30
    assert_problem(client.put("/v1/policies/P-DIGITS", json=policy), 422)
    dated = claim(date_of_loss=f"{ARABIC_YEAR}-06-01")
    problem = assert_problem(client.post("/v1/claims", json=dated), 422)
    assert problem["errors"] == [{"field": "date_of_loss", "message": "Write digits 0-9 only."}]
    for body in (
        claim(date_of_loss=f"{ARABIC_YEAR}-06-01"),
        claim(reported_at=f"{ARABIC_YEAR}-06-12T09:00:00+00:00"),
        claim(amount="\u0663\u0660\u0660"),
    ):
        assert_problem(client.post("/v1/claims", json=body), 422)
    assert stored(context, ClaimRow) == 0
    staff = key(client.application, "admin")
    assert_problem(client.get(f"/v1/escalations?limit={ARABIC_30}", headers=staff), 422)
    assert_problem(client.get(f"/v1/reports/bordereau/{ARABIC_YEAR}-01", headers=staff))
    assert client.get("/v1/escalations?limit=30", headers=staff).status_code == 200


def test_a_key_given_twice_in_a_body_is_422_and_changes_nothing(client, context):
    """Finding 14: which of two values counts is not left to the parser."""
    put_policies(client, ["P-DEV"])
    body = json.dumps(claim())[:-1] + ', "amount": "9999.00"}'
    problem = assert_problem(post_raw(client, "/v1/claims", body), 422)
    assert problem["code"] == "duplicate_key" and '"amount"' in problem["detail"]
    nested = json.dumps(claim()).replace('"name": ', '"name": "A", "name": ', 1)
    assert assert_problem(post_raw(client, "/v1/claims", nested), 422)["code"] == "duplicate_key"
    assert stored(context, ClaimRow) == 0
