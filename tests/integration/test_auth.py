"""Who may call what: the role matrix over the whole route table, keys, sessions, limits."""

from __future__ import annotations

import re

import pytest

from service.domain.identity import ROLES
from tests.auth_helpers import PASSWORD, key, user
from tests.helpers import claim, put_policies

pytestmark = pytest.mark.integration

PUBLIC = {
    "static",
    "metrics",
    "api-docs.openapi_json",
    "health.healthz",
    "health.readyz",
    "console.login",
    "console.static",
}

# The contract: which roles each endpoint admits.
STAFF = {"supervisor", "analyst", "finance", "admin"}
EXPECTED = {
    "claims.post_claim": {"intake", "admin"},
    "claims.list_claims": {"intake"} | STAFF,
    "claims.get_claim": {"intake"} | STAFF,
    "policies.put_policy": {"intake", "admin"},
    "policies.get_policy": {"intake"} | STAFF,
    "escalations.list_escalations": {"supervisor", "admin"},
    "escalations.assign": {"supervisor", "admin"},
    "escalations.unassign": {"supervisor", "admin"},
    "decisions.post_decision": {"supervisor", "admin"},
    "decisions.post_appeal": {"intake", "admin"},
    "audit.list_audit": {"admin"},
    "audit.verify": {"admin"},
    "apikeys.create_key": {"admin"},
    "apikeys.list_keys": {"admin"},
    "apikeys.revoke_key": {"admin"},
}


def test_every_endpoint_declares_roles(app):
    undeclared = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC:
            continue
        roles = getattr(app.view_functions[rule.endpoint], "_roles", None)
        if not roles or not set(roles) <= set(ROLES):
            undeclared.append(f"{rule.endpoint} {rule.rule}")
    assert not undeclared, f"endpoints without roles: {undeclared}"


def test_api_roles_are_the_contract(app):
    declared = {
        r.endpoint: set(app.view_functions[r.endpoint]._roles)
        for r in app.url_map.iter_rules()
        if r.endpoint in EXPECTED
    }
    assert declared == EXPECTED


def _calls(app):
    """Every /v1 rule with a concrete URL and method."""
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/v1/"):
            continue
        url = re.sub(r"<int(?:\([^)]*\))?:[^>]+>", "999999", rule.rule)
        url = re.sub(r"<(?:[^:>]+:)?([^>]+)>", "x-unknown", url)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule.endpoint, method, url


def test_role_matrix(app, client):
    """Each role gets past auth exactly where the contract admits it (never 401/403 there)."""
    headers = {role: key(app, role) for role in ROLES}
    for endpoint, method, url in _calls(app):
        for role in ROLES:
            response = client.open(url, method=method, headers=headers[role], json={})
            allowed = EXPECTED.get(endpoint) or set(app.view_functions[endpoint]._roles)
            if role in allowed:
                assert response.status_code not in (401, 403), (endpoint, role, response.json)
            else:
                assert response.status_code == 403, (endpoint, role, response.status_code)
                assert response.mimetype == "application/problem+json"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "Bearer",
        "Bearer nonsense",
        "Basic abc",
        "Bearer ck_live_00000000.wrongwrongwrongwrong",
    ],
)
def test_missing_or_bad_credentials_are_401(app, client, header):
    client.default_auth = False
    headers = {"Authorization": header} if header else {}
    for endpoint, method, url in _calls(app):
        response = client.open(url, method=method, headers=headers, json={})
        assert response.status_code == 401, (endpoint, method, response.status_code)
        assert response.mimetype == "application/problem+json"
        assert response.headers["WWW-Authenticate"] == "Bearer"


def test_public_endpoints_need_no_key(client):
    client.default_auth = False
    assert client.get("/healthz").status_code == 200
    assert client.get("/openapi.json").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_intake_sees_only_its_own_claims(app, client):
    put_policies(client, ["P-DEV"])
    mine = client.post("/v1/claims", json=claim()).get_json()["id"]
    other = key(app, "intake", "other-client")
    response = client.get(f"/v1/claims/{mine}", headers=other)
    assert response.status_code == 404
    assert "claimant" not in response.get_json()
    assert client.get("/v1/claims", headers=other).get_json()["items"] == []
    appeal = client.post(f"/v1/claims/{mine}/appeal", headers=other, json={"reason": "x"})
    assert appeal.status_code == 404
    theirs = client.post("/v1/claims", headers=other, json=claim()).get_json()["id"]
    assert client.get(f"/v1/claims/{theirs}").status_code == 404
    staff = key(app, "supervisor")
    assert client.get(f"/v1/claims/{mine}", headers=staff).status_code == 200
    assert len(client.get("/v1/claims", headers=staff).get_json()["items"]) == 2


def test_intake_claims_belong_to_the_key_name(app, client):
    put_policies(client, ["P-DEV"])
    headers = key(app, "intake", "acme-insurer")
    claim_id = client.post("/v1/claims", json=claim(), headers=headers).get_json()["id"]
    with app.extensions["claims"].unit_of_work() as session:
        from service.db.tables import ClaimRow

        assert session.get(ClaimRow, claim_id).client_id == "acme-insurer"


def test_revoked_key_is_refused_and_last_use_recorded(app, client):
    admin = key(app, "admin")
    created = client.post("/v1/apikeys", headers=admin, json={"name": "tmp", "role": "intake"})
    assert created.status_code == 201
    new = created.get_json()
    assert re.fullmatch(r"ck_live_[0-9a-f]{8}\.[A-Za-z0-9_-]{20,}", new["key"])
    headers = {"Authorization": f"Bearer {new['key']}"}
    assert client.get("/v1/claims", headers=headers).status_code == 200
    listed = {k["prefix"]: k for k in client.get("/v1/apikeys", headers=admin).get_json()}
    assert listed[new["prefix"]]["last_used_at"] is not None
    assert "key" not in listed[new["prefix"]] and "secret_hash" not in listed[new["prefix"]]
    assert client.post(f"/v1/apikeys/{new['prefix']}/revoke", headers=admin).status_code == 204
    assert client.get("/v1/claims", headers=headers).status_code == 401
    assert client.post(f"/v1/apikeys/{new['prefix']}/revoke", headers=admin).status_code == 404


def test_keys_are_stored_only_as_hashes(app):
    from sqlalchemy import select

    from service.db.tables import ApiKeyRow

    headers = key(app, "finance")
    secret = headers["Authorization"].split(".", 1)[1]
    with app.extensions["claims"].unit_of_work() as session:
        rows = session.scalars(select(ApiKeyRow)).all()
    assert all(secret not in (r.secret_hash + r.prefix) for r in rows)


def test_rate_limit_gives_429_with_retry_after(sqlite_url, tmp_path, clock):
    from service.api.app import create_app
    from service.usecases.context import build_context
    from tests.conftest import make_config

    config = make_config(sqlite_url, tmp_path, RATE_LIMIT="3/minute")
    ctx = build_context(config)
    ctx.clock = clock
    app = create_app(config, ctx)
    client = app.test_client()
    headers = key(app, "analyst")
    statuses = [client.get("/v1/claims", headers=headers).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    response = client.get("/v1/claims", headers=headers)
    assert response.mimetype == "application/problem+json"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert client.get("/v1/claims", headers=key(app, "analyst")).status_code == 200  # per key


def test_rate_limit_fails_open_when_redis_is_down(sqlite_url, tmp_path, clock, caplog):
    from service.api.app import create_app
    from service.usecases.context import build_context
    from tests.conftest import make_config

    config = make_config(
        sqlite_url, tmp_path, REDIS_URL="redis://127.0.0.1:1/0", RATE_LIMIT="1/minute"
    )
    ctx = build_context(config)
    ctx.clock = clock
    client = create_app(config, ctx).test_client()
    put_policies(client, ["P-DEV"])
    assert client.post("/v1/claims", json=claim()).status_code == 201
    assert client.post("/v1/claims", json=claim()).status_code == 201


# --- console sessions --------------------------------------------------------------


def _login(client, username, password=PASSWORD):
    client.default_auth = False
    page = client.get("/console/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    return client.post(
        "/console/login", data={"username": username, "password": password, "csrf_token": token}
    )


def test_login_sets_a_hardened_session_cookie(app, client):
    user(app, "sue", "supervisor")
    response = _login(client, "sue")
    assert response.status_code == 302
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert client.get("/console/queue").status_code == 200


def test_wrong_password_and_forged_cookie_are_refused(app, client):
    user(app, "sue", "supervisor")
    assert _login(client, "sue", "wrong password!").status_code == 401
    client.set_cookie("claims_session", "eyJ1aWQiOjF9.forged.signature")
    assert client.get("/v1/escalations").status_code == 401
    assert client.get("/console/queue").status_code == 302  # to the login page
    assert client.post("/console/claims/x/assign", data={}).status_code == 401


def test_expired_session_is_refused(app, client, clock):

    user(app, "sue", "supervisor")
    _login(client, "sue")
    assert client.get("/v1/escalations").status_code == 200
    clock.advance(hours=9)
    assert client.get("/v1/escalations").status_code == 401


def test_session_posts_need_the_csrf_token(app, client):
    user(app, "sue", "supervisor")
    _login(client, "sue")
    response = client.post("/console/claims/x/assign", data={})
    assert response.status_code == 400
    login_page = client.get("/console/login")  # no CSRF token, no login either
    assert login_page.status_code in (200, 302)
    client2 = app.test_client()
    client2.default_auth = False
    assert (
        client2.post("/console/login", data={"username": "sue", "password": PASSWORD}).status_code
        == 400
    )


def test_console_refuses_a_role_without_access(app, client):
    user(app, "fin", "finance")
    _login(client, "fin")
    assert client.get("/console/queue").status_code == 403
    assert client.get("/console/operations").status_code == 200


def test_logins_are_audited(app, client):
    user(app, "sue", "supervisor")
    _login(client, "sue", "nope nope nope")
    _login(client, "sue")
    admin = key(app, "admin")
    actions = [
        e["action"] for e in client.get("/v1/audit?actor=sue", headers=admin).get_json()["items"]
    ]
    assert actions == ["login.failed", "login.succeeded"]


def test_rate_limit_windows_are_shared_by_processes_through_redis():
    """Two API processes (two limiters) on the real Redis count one window together."""
    import uuid

    from limits import parse

    from service.adapters.rate_limit import BatchedRateLimiter
    from tests.conftest import REDIS_URL

    key = f"test-{uuid.uuid4().hex}"
    small = [BatchedRateLimiter(REDIS_URL, parse("4/hour")) for _ in range(2)]
    assert [small[i % 2].hit(key) for i in range(6)].count(None) == 4
    big = [BatchedRateLimiter(REDIS_URL, parse("200/hour")) for _ in range(2)]
    allowed = [big[i % 2].hit(key + "b") for i in range(300)].count(None)
    assert 200 <= allowed <= 200 + 2 * 9
