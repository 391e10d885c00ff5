"""Signed checkpoints: deleting the newest events is detected up to the last checkpoint;
the chain from before per-subject chains stays verifiable after the migration."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import delete, func, select, text, update

from service.adapters import signing
from service.db import audit
from service.db.migrate import upgrade
from service.db.session import get_engine
from service.db.tables import AuditCheckpointRow, AuditEventRow
from service.usecases.context import build_context
from service.usecases.verify_audit import verify_audit
from service.usecases.write_checkpoint import checkpoint_body, write_checkpoint
from tests.conftest import PG_ADMIN_URL, make_config
from tests.helpers import claim, put_policies

pytestmark = pytest.mark.integration


def settle(ctx) -> None:
    """Until every event written so far is below the checkpoint horizon. On PostgreSQL
    the horizon is the cluster's oldest running transaction, and other sessions' tests
    share this server: wait for their open transactions rather than assume none."""
    deadline = time.monotonic() + 60
    while True:
        with ctx.unit_of_work() as session:
            if session.get_bind().dialect.name != "postgresql":
                return
            newest = session.scalar(select(func.max(AuditEventRow.txid))) or 0
            if audit.checkpoint_horizon(session) > newest:
                return
        assert time.monotonic() < deadline, "a transaction on this server stayed open 60 s"
        time.sleep(0.05)


def checkpoint(ctx, **kw):
    settle(ctx)
    return write_checkpoint(ctx, **kw)


def _claims(client, count: int) -> list[str]:
    put_policies(client, ["P-DEV"])
    return [client.post("/v1/claims", json=claim()).json["id"] for _ in range(count)]


def _newest_of(ctx, claim_id: str) -> int:
    with ctx.unit_of_work() as session:
        return session.scalar(
            select(func.max(AuditEventRow.id)).where(AuditEventRow.claim_id == claim_id)
        )


def _event_count(ctx) -> int:
    with ctx.unit_of_work() as session:
        return session.scalar(select(func.count()).select_from(AuditEventRow))


def test_checkpoints_are_signed_exported_and_chained(app, client, context, clock):
    _claims(client, 3)
    first = checkpoint(context, force=True)
    assert first is not None and first["seq"] == 1 and first["prev_hash"] == "0" * 64
    assert first["event_count"] == _event_count(context)  # the API key's event and 3 claims'
    folder = Path(context.config.audit_checkpoint_dir)
    exported = json.loads((folder / "checkpoint-00000001.json").read_text())
    assert exported == first
    public = signing.load_public_key(
        (folder / f"audit-public-key-{first['key_id']}.pem").read_text()
    )
    assert signing.verify(public, checkpoint_body(exported), exported["signature"])
    assert checkpoint(context, force=True) is None  # nothing new

    _claims(client, 2)
    clock.advance(seconds=context.config.audit_checkpoint_seconds - 1)
    assert checkpoint(context) is None  # not due yet
    clock.advance(seconds=1)
    second = checkpoint(context)
    assert second["seq"] == 2 and second["prev_hash"] == first["hash"]
    assert second["covers_from"] == first["covers_to"]
    assert first["event_count"] + second["event_count"] == _event_count(context)
    report = verify_audit(context)
    assert report.ok and report.checkpoints == 2 and report.exported_seq == 2, report


def test_deleted_newest_event_covered_by_a_checkpoint_is_detected(app, client, context):
    ids = _claims(client, 3)
    checkpoint(context, force=True)
    newest = _newest_of(context, ids[1])
    with context.unit_of_work() as session:  # the newest event of that claim's chain
        session.execute(delete(AuditEventRow).where(AuditEventRow.id == newest))
        session.commit()
    report = verify_audit(context)
    assert not report.ok and "covered by checkpoint 1 were deleted" in report.problem, report


def test_deleted_newest_event_after_the_last_checkpoint_is_the_window(app, client, context):
    """What docs/supervisors.md says: the checkpoint interval is the blind window."""
    _claims(client, 1)
    checkpoint(context, force=True)
    late = _claims(client, 1)[0]
    with context.unit_of_work() as session:
        session.execute(delete(AuditEventRow).where(AuditEventRow.claim_id == late))
        session.commit()
    assert verify_audit(context).ok


def test_deleting_checkpoints_too_is_caught_by_the_exported_file(app, client, context):
    ids = _claims(client, 2)
    checkpoint(context, force=True)
    with context.unit_of_work() as session:
        session.execute(
            delete(AuditEventRow).where(AuditEventRow.id == _newest_of(context, ids[0]))
        )
        session.execute(delete(AuditCheckpointRow))
        session.commit()
    report = verify_audit(context)
    assert not report.ok and "exported checkpoint 1 is missing" in report.problem, report


def test_a_checkpoint_rewritten_without_the_key_is_detected(app, client, context):
    """Whoever deletes an event and recomputes the root cannot sign the result."""
    ids = _claims(client, 2)
    checkpoint(context, force=True)
    with context.unit_of_work() as session:
        session.execute(
            delete(AuditEventRow).where(AuditEventRow.id == _newest_of(context, ids[0]))
        )
        cp = session.scalar(select(AuditCheckpointRow))
        cp.event_count -= 1
        session.commit()
    report = verify_audit(context)
    assert not report.ok and "checkpoint 1 was edited" in report.problem, report
    with context.unit_of_work() as session:  # recompute the hash too: the signature fails
        cp = session.scalar(select(AuditCheckpointRow))
        fields = {n: getattr(cp, n) for n in ("seq", "created_at", "position", "covers_from")}
        fields |= {n: getattr(cp, n) for n in ("covers_to", "event_count", "root")}
        fields |= {"prev_hash": cp.prev_hash, "key_id": cp.key_id}
        cp.hash = hashlib.sha256(checkpoint_body(fields)).hexdigest()
        session.commit()
    report = verify_audit(context)
    assert not report.ok and "signature does not verify" in report.problem, report


def test_a_checkpoint_signed_by_another_key_is_not_trusted(app, client, context, tmp_path):
    _claims(client, 1)
    other = Ed25519PrivateKey.generate()
    checkpoint(context, force=True, signer=signing.Signer(other, "test"))
    report = verify_audit(context)
    assert not report.ok and "not trusted" in report.problem
    pem = signing.public_pem(other.public_key())
    assert verify_audit(context, [pem]).ok  # an old key handed in: trusted
    (tmp_path / "trusted.pem").write_text(
        pem + signing.public_pem(Ed25519PrivateKey.generate().public_key())
    )
    trusting = build_context(
        make_config(
            context.config.database_url,
            tmp_path,
            AUDIT_VERIFY_KEYS_FILE=str(tmp_path / "trusted.pem"),
        )
    )
    assert verify_audit(trusting).ok  # or a file of public keys (a process with no private key)


def test_keys_from_the_settings(tmp_path, db_url, caplog):
    key = Ed25519PrivateKey.generate()
    raw = key.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    expected = signing.key_id(key.public_key())
    as_text = make_config(db_url, tmp_path, AUDIT_SIGNING_KEY=base64.b64encode(raw).decode())
    assert signing.load_signer(as_text).key_id == expected
    (tmp_path / "k.pem").write_text(pem)
    as_file = make_config(db_url, tmp_path, AUDIT_SIGNING_KEY_FILE=str(tmp_path / "k.pem"))
    assert signing.load_signer(as_file).key_id == expected
    with pytest.raises(signing.SigningKeyError):
        signing.load_signer(make_config(db_url, tmp_path, AUDIT_SIGNING_KEY="not a key"))

    dev = make_config(db_url, tmp_path / "dev")
    assert signing.load_signer(dev, create=False) is None
    with caplog.at_level(logging.WARNING):
        generated = signing.load_signer(dev)
    assert "DEVELOPMENT signing key" in caplog.text
    path = Path(dev.instance_dir) / signing.DEV_KEY_NAME
    assert path.stat().st_mode & 0o777 == 0o600
    assert signing.load_signer(dev).key_id == generated.key_id  # kept, not regenerated


def test_the_scheduler_writes_checkpoints(app, client, context, clock):
    from tests.fakes import FakeDispatcher
    from worker.scheduler import sweep_once

    _claims(client, 1)
    settle(context)
    result = sweep_once(context.config, clock, FakeDispatcher())
    assert result["audit_checkpoint"] == 1
    assert sweep_once(context.config, clock, FakeDispatcher())["audit_checkpoint"] == "-"
    off = replace(context.config, audit_checkpoint_seconds=0)
    assert sweep_once(off, clock, FakeDispatcher())["audit_checkpoint"] == "off"


def test_cli_checkpoint_and_verify(app, client, context, monkeypatch, db_url):
    from service.auth_cli import audit as audit_cli

    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("INSTANCE_DIR", context.config.instance_dir)
    ids = _claims(client, 2)
    runner = CliRunner()
    settle(context)
    written = runner.invoke(audit_cli, ["checkpoint"])
    assert written.exit_code == 0 and "checkpoint 1:" in written.output, written.output
    verified = runner.invoke(audit_cli, ["verify"])
    assert verified.exit_code == 0 and "newest exported checkpoint 1 matches" in verified.output
    with context.unit_of_work() as session:
        session.execute(
            delete(AuditEventRow).where(AuditEventRow.id == _newest_of(context, ids[1]))
        )
        session.commit()
    broken = runner.invoke(audit_cli, ["verify"])
    assert broken.exit_code == 1 and "covered by checkpoint 1" in broken.output


# --- the migration from one global chain ---------------------------------------------


def _legacy_events(url: str, count: int) -> None:
    """Events as the code before migration 0011 wrote them: one global chain."""
    from service.db.audit import GENESIS, event_hash

    prev = GENESIS
    at = datetime(2026, 1, 5, 9, tzinfo=UTC)
    with get_engine(url).begin() as conn:
        for i in range(count):
            fields = {
                "at": at.isoformat(),
                "actor": "rules",
                "action": "claim.decided",
                "claim_id": f"legacy-{i % 2}",
                "source": None,
                "before": None,
                "after": {"status": "approved"},
            }
            digest = event_hash(prev, fields)
            conn.execute(
                text(
                    "INSERT INTO audit_events (at, actor, action, claim_id, after, prev_hash, "
                    "hash) VALUES (:at, 'rules', 'claim.decided', :claim_id, :after, :prev, :hash)"
                ),
                {
                    "at": at,
                    "claim_id": fields["claim_id"],
                    "after": json.dumps(fields["after"]),
                    "prev": prev,
                    "hash": digest,
                },
            )
            prev = digest


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def unmigrated_url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    import psycopg

    request.getfixturevalue("pg_url")  # skips (or fails in CI) without PostgreSQL
    name = f"claims_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].split("://", 1)[1]
    yield f"postgresql+psycopg://{base}/{name}"
    get_engine(f"postgresql+psycopg://{base}/{name}").dispose()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_old_global_chain_stays_verifiable(unmigrated_url, tmp_path, clock):
    upgrade(unmigrated_url, "0005")
    _legacy_events(unmigrated_url, 6)
    upgrade(unmigrated_url)
    ctx = build_context(make_config(unmigrated_url, tmp_path))
    ctx.clock = clock
    with ctx.unit_of_work() as session:  # new events chain per subject beside the legacy ones
        audit.append_audit(session, actor="t", action="claim.viewed", at=clock.now(), claim_id="c1")
        audit.append_audit(session, actor="t", action="claim.viewed", at=clock.now(), claim_id="c1")
        session.commit()
    report = verify_audit(ctx)
    assert report.ok and report.checked == 8 and report.subjects == 1, report
    first = checkpoint(ctx, force=True)
    assert first["event_count"] == 8  # the legacy events are anchored too
    assert verify_audit(ctx).ok
    with ctx.unit_of_work() as session:
        session.execute(update(AuditEventRow).where(AuditEventRow.id == 3).values(actor="x"))
        session.commit()
    report = verify_audit(ctx)
    assert not report.ok and report.broken_id == 3 and "edited" in report.problem
