"""Login throttling per username and client address (issue 13 point 7), on SQLite and
PostgreSQL, with the injectable clock (no sleeps)."""

from __future__ import annotations

import re
import threading
from dataclasses import replace

import pytest

from tests.auth_helpers import PASSWORD, key, user

pytestmark = pytest.mark.integration


class Browser:
    def __init__(self, app, address: str = "192.0.2.10") -> None:
        self.client = app.test_client()
        self.client.default_auth = False
        self.environ = {"REMOTE_ADDR": address}
        page = self.client.get("/console/login", environ_base=self.environ)
        text = page.get_data(as_text=True)
        self.csrf = re.search(r'name="csrf_token" value="([^"]+)"', text).group(1)

    def login(self, username: str, password: str):
        return self.client.post(
            "/console/login",
            data={"username": username, "password": password, "csrf_token": self.csrf},
            environ_base=self.environ,
        )


def audit_actions(app, client, actor: str) -> list[str]:
    items = client.get(f"/v1/audit?actor={actor}&limit=1000", headers=key(app, "admin"))
    return [e["action"] for e in items.get_json()["items"]]


def test_fifty_wrong_passwords_lock_and_the_right_one_waits_for_the_end(app, client, clock):
    user(app, "sue", "supervisor")
    browser = Browser(app)
    statuses, waits = [], []
    for _ in range(50):
        response = browser.login("sue", "wrong password, again")
        statuses.append(response.status_code)
        if response.status_code == 429:
            waits.append(int(response.headers["Retry-After"]))
            if waits[-1] <= 60:  # a delay: the attacker waits it out, then goes on
                clock.advance(seconds=waits[-1])
    assert statuses[:3] == [401, 401, 401]  # three free tries
    assert statuses.count(401) == 10  # LOGIN_LOCK_AFTER failures were checked at all
    delays = [w for w in waits if w <= 60]
    assert delays == sorted(delays) and delays[0] == 1 and delays[-1] >= 32  # growing
    assert waits[-1] > 14 * 60  # then locked for LOGIN_LOCK_MINUTES

    right = browser.login("sue", PASSWORD)
    assert right.status_code == 429 and 14 * 60 < int(right.headers["Retry-After"]) <= 15 * 60
    assert "Too many failed logins" in right.get_data(as_text=True)
    clock.advance(minutes=14)
    assert browser.login("sue", PASSWORD).status_code == 429  # still locked
    clock.advance(minutes=1, seconds=1)
    assert browser.login("sue", PASSWORD).status_code == 302  # the lock has ended

    actions = audit_actions(app, client, "sue")
    assert actions.count("login.failed") == 10
    assert actions.count("login.locked") == 1
    assert actions[-1] == "login.succeeded"


def test_a_delay_refuses_even_the_right_password_until_it_passes(app, clock):
    user(app, "sue", "supervisor")
    browser = Browser(app)
    for _ in range(3):
        assert browser.login("sue", "not it at all").status_code == 401
    refused = browser.login("sue", PASSWORD)
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    clock.advance(seconds=1)
    assert browser.login("sue", PASSWORD).status_code == 302
    # success forgets the username's failures: three free tries again
    browser = Browser(app)
    for _ in range(3):
        assert browser.login("sue", "not it at all").status_code == 401


def test_failures_are_forgotten_after_a_quiet_period(app, clock):
    user(app, "sue", "supervisor")
    browser = Browser(app)
    for _ in range(3):
        browser.login("sue", "not it at all")
    clock.advance(minutes=15)
    for _ in range(3):
        assert browser.login("sue", "not it at all").status_code == 401


def test_one_address_spraying_many_usernames_is_locked(app, client, clock):
    ctx = app.extensions["claims"]
    ctx.config = replace(ctx.config, login_address_lock_after=12)  # default 50
    user(app, "sue", "supervisor")
    sprayer = Browser(app, "198.51.100.7")
    for n in range(12):
        assert sprayer.login(f"user{n}", "Summer2026!").status_code == 401
    refused = sprayer.login("sue", PASSWORD)
    assert refused.status_code == 429
    assert int(refused.headers["Retry-After"]) > 14 * 60
    assert Browser(app, "198.51.100.8").login("sue", PASSWORD).status_code == 302
    locked = audit_actions(app, client, "user11")
    assert locked == ["login.failed", "login.locked"]


def test_parallel_guesses_are_counted_one_after_the_other(app):
    """Twelve wrong passwords at the same instant: only the three free tries are checked;
    every other attempt is refused because the ones before it were counted first."""
    user(app, "sue", "supervisor")
    browsers = [Browser(app) for _ in range(12)]
    statuses: list[int] = []
    start = threading.Barrier(len(browsers))

    def attempt(browser: Browser) -> None:
        start.wait()
        statuses.append(browser.login("sue", "parallel guess").status_code)

    threads = [threading.Thread(target=attempt, args=(b,)) for b in browsers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(statuses) == [401] * 3 + [429] * 9
