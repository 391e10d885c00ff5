"""Users, API keys and logins (check_credentials, login throttling), console_sessions,
verify_audit, record_claim_view, check_health."""

from __future__ import annotations

from dataclasses import replace

import pytest

from service.db.tables import AuditEventRow
from service.usecases import check_credentials, console_sessions, manage_api_keys, manage_users
from service.usecases.check_health import database_answers, outbox_lag_seconds
from service.usecases.record_claim_view import record_claim_view
from service.usecases.verify_audit import audit_page, verify_audit

pytestmark = pytest.mark.unit


def test_users_log_in_and_keys_authenticate_until_revoked(ctx):
    manage_users.create_user(ctx, "sup", "correct horse battery", "supervisor")
    assert check_credentials.login(ctx, "sup", "wrong password!!", None).identity is None
    user = check_credentials.login(ctx, "sup", "correct horse battery", None).identity
    assert user is not None and user.role == "supervisor"
    new = manage_api_keys.create_api_key(ctx, "acme", "intake")
    assert check_credentials.authenticate_key(ctx, new.key).client_scope == "acme"
    assert manage_api_keys.revoke_api_key(ctx, new.prefix)
    assert check_credentials.authenticate_key(ctx, new.key) is None


def test_a_locked_username_is_refused_unchecked_until_the_lock_ends(ctx):
    ctx.config = replace(ctx.config, login_lock_after=4)
    manage_users.create_user(ctx, "sup", "correct horse battery", "supervisor")
    waits = []
    for _ in range(6):
        result = check_credentials.login(ctx, "sup", "wrong password!!", "192.0.2.1")
        waits.append(result.retry_after)
        ctx.clock.advance(seconds=result.retry_after if result.retry_after < 60 else 0)
    assert waits[:3] == [0, 0, 0] and waits[3] == 1  # three free tries, then a delay
    assert waits[-1] > 14 * 60  # the fourth checked failure locked the name
    right = check_credentials.login(ctx, "sup", "correct horse battery", "192.0.2.1")
    assert right.identity is None and right.retry_after > 14 * 60
    ctx.clock.advance(minutes=15)
    assert check_credentials.login(ctx, "sup", "correct horse battery", None).identity


def test_a_password_change_ends_every_session_of_the_user(ctx):
    manage_users.create_user(ctx, "sup", "correct horse battery", "supervisor")
    user = check_credentials.login(ctx, "sup", "correct horse battery", None).identity
    laptop, phone = (
        console_sessions.open_session(ctx, user),
        console_sessions.open_session(ctx, user),
    )
    assert console_sessions.resume_session(ctx, laptop) == user
    assert manage_users.change_password(ctx, "sup", "a brand new passphrase")
    assert console_sessions.resume_session(ctx, laptop) is None
    assert console_sessions.resume_session(ctx, phone) is None


def test_audit_chain_verifies_until_an_event_is_edited(ctx):
    record_claim_view(ctx, "c-1", actor="sup", via="user", role="supervisor", source=None)
    record_claim_view(ctx, "c-1", actor="sup", via="user", role="supervisor", source=None)
    assert verify_audit(ctx).ok and verify_audit(ctx).checked == 2
    assert len(audit_page(ctx, {"claim_id": "c-1"}, 10)["items"]) == 2
    with ctx.unit_of_work() as s:
        s.query(AuditEventRow).filter(AuditEventRow.id == 1).update({"actor": "x"})
        s.commit()
    report = verify_audit(ctx)
    assert not report.ok and report.broken_id == 1


def test_health(ctx):
    assert database_answers(ctx)
    assert outbox_lag_seconds(ctx) == 0.0
