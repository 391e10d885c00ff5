"""The audit trail: who did what to which claim, hash-chained so edits are detected."""

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
    keys = client.get("/v1/audit?action=apikey.created", headers=admin).json["items"]
    assert {e["after"]["name"] for e in keys} >= {"sue", "admin-client"}
    assert client.get("/v1/audit/verify", headers=admin).json["ok"] is True


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


def test_deleted_event_is_detected(app, client):
    _some_events(app, client)
    ctx = app.extensions["claims"]
    with ctx.unit_of_work() as session:
        ids = session.scalars(select(AuditEventRow.id).order_by(AuditEventRow.id)).all()
        session.execute(delete(AuditEventRow).where(AuditEventRow.id == ids[2]))
        session.commit()
    report = verify_audit(ctx)
    assert not report.ok and report.broken_id == ids[3] and "deleted" in report.problem


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
