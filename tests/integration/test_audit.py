"""The audit trail: who did what to which claim, one hash chain per subject, so edits and
deletions inside a chain are detected (deletions at a chain's end: test_audit_checkpoints)."""

from __future__ import annotations

import time

import pytest
from click.testing import CliRunner
from sqlalchemy import delete, select, update

from service.db.tables import AuditEventRow
from service.usecases import check_credentials
from service.usecases.verify_audit import verify_audit
from tests.auth_helpers import key
from tests.helpers import claim, put_policies

pytestmark = pytest.mark.integration


def _some_events(app, client):
    put_policies(client, ["P-DEV"])
    claim_id = client.post("/v1/claims", json=claim(date_of_loss="2026-04-01")).json["id"]
    sup = key(app, "supervisor", "sue")
    tag = client.get(f"/v1/claims/{claim_id}", headers=sup).headers["ETag"]
    client.post(f"/v1/escalations/{claim_id}/assign", headers=sup)
    tag = client.get(f"/v1/claims/{claim_id}", headers=sup).headers["ETag"]
    client.post(
        f"/v1/claims/{claim_id}/decision",
        headers=sup | {"If-Match": tag},
        json={"outcome": "approve", "amount": "100", "note": "ok"},
    )
    return claim_id


def test_a_claims_story_can_be_rebuilt_from_the_trail(app, client):
    claim_id = _some_events(app, client)
    admin = key(app, "admin")
    events = client.get(f"/v1/audit?claim_id={claim_id}", headers=admin).json["items"]
    story = [(e["actor"], e["action"]) for e in events]
    assert story == [
        ("rules", "claim.decided"),
        ("sue", "claim.viewed"),
        ("sue", "claim.assigned"),
        ("sue", "claim.viewed"),
        ("sue", "claim.decided"),
    ]
    assert all(e["at"] and e["hash"] for e in events)
    # The claim's own chain: seq 1.., each linked to the claim's previous event.
    assert [e["subject"] for e in events] == [f"claim:{claim_id}"] * 5
    assert [e["seq"] for e in events] == [1, 2, 3, 4, 5]
    assert events[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["hash"] for a, b in zip(events, events[1:], strict=False))
    keys = client.get("/v1/audit?action=apikey.created", headers=admin).json["items"]
    assert {e["after"]["name"] for e in keys} >= {"sue", "admin-client"}
    assert all(e["subject"].startswith("apikey:") and e["seq"] == 1 for e in keys)
    report = client.get("/v1/audit/verify", headers=admin).json
    assert report["ok"] is True and report["subjects"] >= 3


def test_edited_event_is_detected(app, client):
    _some_events(app, client)
    ctx = app.extensions["claims"]
    assert verify_audit(ctx).ok
    with ctx.unit_of_work() as session:
        target = session.scalars(select(AuditEventRow.id).order_by(AuditEventRow.id)).all()[3]
        session.execute(
            update(AuditEventRow).where(AuditEventRow.id == target).values(actor="someone-else")
        )
        session.commit()
    report = verify_audit(ctx)
    assert not report.ok and report.broken_id == target and "edited" in report.problem


def test_event_deleted_in_the_middle_of_a_chain_is_detected(app, client):
    claim_id = _some_events(app, client)
    ctx = app.extensions["claims"]
    with ctx.unit_of_work() as session:
        chain = session.scalars(
            select(AuditEventRow.id)
            .where(AuditEventRow.subject == f"claim:{claim_id}")
            .order_by(AuditEventRow.seq)
        ).all()
        session.execute(delete(AuditEventRow).where(AuditEventRow.id == chain[2]))
        session.commit()
    report = verify_audit(ctx)
    assert not report.ok and report.broken_id == chain[3] and "deleted" in report.problem


def test_other_subjects_have_their_own_chains(app, client):
    """Policies, users and API keys: each its own chain, from seq 1."""
    from service.usecases.check_credentials import login
    from service.usecases.manage_users import create_user, set_user_active

    ctx = app.extensions["claims"]
    put_policies(client, ["P-PROP"])
    put_policies(client, ["P-PROP"])  # replaced: the policy's second event
    create_user(ctx, "ann", "a long enough password", "supervisor", actor="cli")
    login(ctx, "ann", "wrong password!", "127.0.0.1")
    set_user_active(ctx, "ann", False, actor="cli")
    with ctx.unit_of_work() as session:
        rows = session.execute(
            select(AuditEventRow.subject, AuditEventRow.seq, AuditEventRow.action)
            .where(AuditEventRow.subject.in_(["policy:P-PROP", "user:ann"]))
            .order_by(AuditEventRow.id)
        ).all()
    admin = key(app, "admin")
    page = client.get("/v1/audit?subject=user:ann", headers=admin).json["items"]
    assert [(e["seq"], e["action"]) for e in page] == [
        (1, "user.created"),
        (2, "login.failed"),
        (3, "user.disabled"),
    ]
    assert [tuple(r) for r in rows] == [
        ("policy:P-PROP", 1, "policy.created"),
        ("policy:P-PROP", 2, "policy.replaced"),
        ("user:ann", 1, "user.created"),
        ("user:ann", 2, "login.failed"),
        ("user:ann", 3, "user.disabled"),
    ]
    assert verify_audit(ctx).ok


def test_cli_verify_and_apikeys(app, client, monkeypatch, db_url, tmp_path):
    from service.auth_cli import apikeys, audit

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("INSTANCE_DIR", str(tmp_path))
    runner = CliRunner()
    created = runner.invoke(apikeys, ["create", "--role", "intake", "--name", "acme"])
    assert created.exit_code == 0, created.output
    new_key = created.output.strip().splitlines()[-1]
    assert new_key.startswith("ck_live_")
    assert (
        client.get("/v1/claims", headers={"Authorization": f"Bearer {new_key}"}).status_code == 200
    )
    assert "acme" in runner.invoke(apikeys, ["list"]).output
    assert runner.invoke(audit, ["verify"]).exit_code == 0
    ctx = app.extensions["claims"]
    with ctx.unit_of_work() as session:
        session.execute(update(AuditEventRow).values(action="tampered"))
        session.commit()
    result = runner.invoke(audit, ["verify"])
    assert result.exit_code == 1 and "BROKEN" in result.output
    prefix = new_key.split(".")[0]
    assert runner.invoke(apikeys, ["revoke", prefix]).exit_code == 0
    # Revoked in another process: the server trusts its lookup for API_KEY_CACHE_SECONDS.
    headers = {"Authorization": f"Bearer {new_key}"}
    assert client.get("/v1/claims", headers=headers).status_code == 200
    later = time.monotonic() + ctx.config.api_key_cache_seconds + 0.1
    monkeypatch.setattr(check_credentials, "monotonic", lambda: later)
    assert client.get("/v1/claims", headers=headers).status_code == 401
