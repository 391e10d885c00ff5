"""Console sessions end when they should, for every copy of the cookie (issue 13 point 6),
on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
from sqlalchemy import select

from service.db.tables import ConsoleSessionRow
from service.usecases import manage_users
from tests.auth_helpers import PASSWORD, user

pytestmark = pytest.mark.integration
COOKIE = "claims_session"


def login(app, username="sue", base_url="http://localhost", headers=None):
    """A fresh browser logged in as `username`; returns the client."""
    client = app.test_client()
    client.default_auth = False
    page = client.get("/console/login", base_url=base_url, headers=headers)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    response = client.post(
        "/console/login",
        data={"username": username, "password": PASSWORD, "csrf_token": token},
        base_url=base_url,
        headers=headers,
    )
    assert response.status_code == 302, response.get_data(as_text=True)
    client.last_login = response
    return client


def copy_of(app, client):
    """Another browser holding a copy of `client`'s cookie (as an attacker would)."""
    thief = app.test_client()
    thief.default_auth = False
    thief.set_cookie(COOKIE, client.get_cookie(COOKIE).value)
    return thief


def works(client) -> bool:
    queue = client.get("/console/queue")
    api = client.get("/v1/escalations")
    assert (queue.status_code == 200) == (api.status_code == 200), (queue, api)
    return api.status_code == 200


def csrf(client) -> str:
    page = client.get("/console/queue").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)


def test_a_cookie_copied_before_logout_no_longer_opens_the_queue_or_the_api(app):
    user(app, "sue", "supervisor")
    browser = login(app)
    thief = copy_of(app, browser)
    assert works(browser) and works(thief)
    assert browser.post("/console/logout", data={"csrf_token": csrf(browser)}).status_code == 302
    assert not works(thief)
    assert thief.get("/console/queue").status_code == 302  # to the login page
    assert thief.get("/v1/escalations").status_code == 401
    assert not works(browser)


def test_logout_ends_every_session_of_the_user(app):
    user(app, "sue", "supervisor")
    user(app, "sam", "supervisor")
    laptop, phone, other = login(app), login(app), login(app, "sam")
    laptop.post("/console/logout", data={"csrf_token": csrf(laptop)})
    assert not works(phone)
    assert works(other)  # someone else's session is untouched


@pytest.mark.parametrize(
    "change",
    [
        lambda ctx: manage_users.change_password(ctx, "sue", "a brand new passphrase"),
        lambda ctx: manage_users.set_user_role(ctx, "sue", "admin"),
        lambda ctx: manage_users.set_user_active(ctx, "sue", False),
    ],
    ids=["password", "role", "disable"],
)
def test_password_role_and_disable_end_every_session(app, change):
    ctx = app.extensions["claims"]
    user(app, "sue", "supervisor")
    laptop, phone = login(app), login(app)
    copy = copy_of(app, laptop)
    assert works(laptop) and works(phone)
    assert change(ctx)
    manage_users.set_user_active(ctx, "sue", True)  # even once enabled again
    assert not works(laptop) and not works(phone) and not works(copy)


def test_users_cli_changes_end_sessions(app, monkeypatch):
    from click.testing import CliRunner

    from service.cli import main

    ctx = app.extensions["claims"]
    for name, value in ctx.config.masked().items():
        if value != "****":
            monkeypatch.setenv(name, value)
    monkeypatch.setenv("CALLBACK_ALLOW_PRIVATE", "true")
    user(app, "sue", "supervisor")
    browser = login(app)
    result = CliRunner().invoke(main, ["users", "role", "sue", "analyst"])
    assert result.exit_code == 0, result.output
    assert not works(browser)
    browser = login(app)
    result = CliRunner().invoke(
        main, ["users", "password", "sue", "--password", "another long passphrase"]
    )
    assert result.exit_code == 0, result.output
    assert browser.get("/console/analyst").status_code == 302


def test_idle_sessions_end_and_used_ones_live_until_the_absolute_end(app, clock):
    user(app, "sue", "supervisor")
    idle, busy = login(app), login(app)
    for _ in range(7):  # 7 x 25 min of use: busy stays, idle passes its 30 minutes
        clock.advance(minutes=25)
        assert works(busy)
    assert not works(idle)
    clock.advance(minutes=25)
    assert works(busy)
    clock.advance(hours=8)  # past login + SESSION_HOURS, however busy
    assert not works(busy)


def test_idle_and_absolute_limits_are_settings(app, clock):
    ctx = app.extensions["claims"]
    ctx.config = replace(ctx.config, session_idle_minutes=5)
    user(app, "sue", "supervisor")
    browser = login(app)
    clock.advance(minutes=6)
    assert not works(browser)


def test_idle_expiry_is_exact_at_the_boundary(app, clock):
    """Finding 14: idle for exactly SESSION_IDLE_MINUTES ends the session, as reaching
    expires_at does; a second less does not."""
    user(app, "sue", "supervisor")
    early, exact = login(app), login(app)
    clock.advance(minutes=30, seconds=-1)
    assert works(early)
    clock.advance(seconds=1)
    assert not works(exact)


def test_the_cookie_is_secure_under_https(app):
    user(app, "sue", "supervisor")
    over_https = login(app, base_url="https://localhost")
    assert "Secure" in over_https.last_login.headers["Set-Cookie"]
    over_http = login(app)
    assert "Secure" not in over_http.last_login.headers["Set-Cookie"]


def test_the_cookie_is_secure_behind_a_trusted_https_proxy(db_url, tmp_path, clock):
    from service.api.app import create_app
    from service.usecases.context import build_context
    from tests.conftest import make_config

    config = make_config(db_url, tmp_path, PROXY_COUNT=1)
    ctx = build_context(config)
    ctx.clock = clock
    app = create_app(config, ctx)
    user(app, "sue", "supervisor")
    browser = login(app, headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"})
    assert "Secure" in browser.last_login.headers["Set-Cookie"]


def test_only_a_hash_of_the_session_token_is_stored(app):
    user(app, "sue", "supervisor")
    browser = login(app)
    cookie = browser.get_cookie(COOKIE).value
    with app.extensions["claims"].unit_of_work() as db:
        ids = db.scalars(select(ConsoleSessionRow.id)).all()
    assert len(ids) == 1 and len(ids[0]) == 64
    token = app.session_interface.get_signing_serializer(app).loads(cookie)["sid"]
    assert token not in ids[0] and ids[0] not in cookie
