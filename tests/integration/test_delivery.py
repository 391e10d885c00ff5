"""End to end: real RQ workers on a real Redis, real SMTP (aiosmtpd) and HTTP peers, SQLite file."""

from __future__ import annotations

import email
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis import Redis
from rq import SimpleWorker
from sqlalchemy import select

from service import config as config_module
from service.adapters import queue as rq_adapter
from service.adapters import smtp as smtp_adapter
from service.adapters import webhooks
from service.adapters.queue import RQDispatcher, connect, get_queue
from service.clock import FixedClock
from service.db import claims
from service.db import outbox as outbox_data
from service.db.session import dispose_all, session_factory
from service.db.tables import Base, ClaimFlagRow, ClaimRow, DecisionRow, OutboxRow
from service.usecases.context import Context, build_context
from service.usecases.deliver_message import RetryPolicy, deliver_message
from service.usecases.escalate_overdue import escalate_overdue
from service.usecases.relay_outbox import relay_outbox
from service.usecases.resend_dead_message import NotDead, resend_dead_message
from service.usecases.send_reminders import send_reminders
from service.usecases.write_bordereau import write_bordereau
from worker import runner, scheduler

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---------------------------------------------------------------- peers
class SmtpSink:
    """aiosmtpd handler recording messages; can hold the first RCPT to simulate a slow server."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.peers: list[tuple[str, int]] = []  # client address per message: one per session
        self.hold_first_rcpt = False
        self.refuse_rcpt = False  # answer 550 quoting the recipient
        self.entered = threading.Event()
        self.release = threading.Event()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        import asyncio

        if self.hold_first_rcpt and not self.entered.is_set():
            self.entered.set()
            while not self.release.is_set():
                await asyncio.sleep(0.05)
        if self.refuse_rcpt:
            return f"550 5.1.1 <{address}>: no mailbox for Ana Lindqvist, call +372 5123 4567"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        self.peers.append(session.peer)
        return "250 Message accepted"


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["content-length"])).decode()
        self.server.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(self.server.status)
        self.end_headers()
        self.wfile.write(getattr(self.server, "answer", b"ok"))

    def log_message(self, *args):
        pass


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    port = free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    sink.port = port
    yield sink
    sink.release.set()
    controller.stop()


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.calls, server.status = [], 200
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def redis_url():
    # The server of TEST_REDIS_URL, but always our own db number: flushing it harms no one.
    base = urlsplit(os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0"))
    url = urlunsplit(base._replace(path="/" + os.environ.get("TEST_WORKER_REDIS_DB", "15")))
    conn = Redis.from_url(url)
    conn.flushdb()
    yield url
    conn.flushdb()
    conn.close()


@pytest.fixture
def env(tmp_path, monkeypatch, smtp, redis_url):
    db = f"sqlite:///{tmp_path / 'claims.db'}"
    values = {
        "DATABASE_URL": db,
        "REDIS_URL": redis_url,
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp.port),
        "SMTP_FROM": "claims@example.com",
        "CALLBACK_ALLOW_PRIVATE": "true",
        "WEBHOOK_MAX_ATTEMPTS": "3",
        "INSTANCE_DIR": str(tmp_path),
        "WEBHOOK_SECRET": "test-secret",
        "SUPERVISOR_LEAD_EMAIL": "lead@example.com",
        "DIGEST_RECIPIENTS": "ops@example.com",
    }
    for key, value in values.items():
        monkeypatch.setenv(key, value)
    Base.metadata.create_all(session_factory(db).kw["bind"])
    yield values
    dispose_all()


@pytest.fixture
def cfg(env):
    return config_module.load()


@pytest.fixture
def sessions(cfg):
    return session_factory(cfg.database_url)


# ---------------------------------------------------------------- helpers
def add_claim(
    sessions,
    *,
    outcome="approved",
    language="en",
    callback_url=None,
    decided_at=None,
    reasons=None,
    missing=None,
    status=None,
) -> tuple[str, int]:
    now = decided_at or datetime.now(UTC)
    claim_id = str(uuid.uuid4())
    with sessions.begin() as s:
        s.add(
            ClaimRow(
                id=claim_id,
                client_id="client-a",
                external_ref=f"EXT-{claim_id[:6]}",
                policy_number="POL-1",
                claim_type="device_damage",
                date_of_loss=date(2026, 1, 5),
                reported_at=now,
                amount=Decimal("120.00"),
                currency="EUR",
                description="",
                claimant={
                    "name": "Ana",
                    "email": "ana@example.com",
                    "preferred_language": language,
                },
                preferred_language=language,
                callback_url=callback_url,
                payload={},
                status=status or outcome,
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
        decision = DecisionRow(
            claim_id=claim_id,
            outcome=outcome,
            payable_amount=Decimal("70.00") if outcome == "approved" else None,
            reasons=reasons or [],
            missing_documents=missing or [],
            trace=[],
            facts={},
            decided_by="rules",
            decided_at=now,
        )
        s.add(decision)
        s.flush()
        return claim_id, decision.id


def add_outbox(sessions, claim_id, decision_id, event, channel="email") -> int:
    now = datetime.now(UTC)
    key = (
        f"claim:{claim_id}:ack:email"
        if event == "acknowledgment"
        else f"claim:{claim_id}:decision:{decision_id}:{channel}"
    )
    with sessions.begin() as s:
        row = OutboxRow(
            dedupe_key=key,
            claim_id=claim_id,
            event=event,
            channel=channel,
            payload={"claim_id": claim_id, "decision_id": decision_id},
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        s.add(row)
        s.flush()
        return row.id


def at(cfg, when=None) -> Context:
    """The use cases' context: RQ on cfg's Redis, the clock stopped at `when` (now)."""
    clock = FixedClock(when or datetime.now(UTC))
    return build_context(cfg, RQDispatcher(cfg.redis_url), clock)


def relay(cfg, when=None) -> int:
    return relay_outbox(at(cfg, when))


def work(cfg) -> None:
    """A real RQ worker, in-process (no fork), until the queues are empty."""
    runner.run_worker(cfg, burst=True, worker_class=SimpleWorker)


def row(sessions, outbox_id) -> OutboxRow:
    with sessions() as s:
        return s.get(OutboxRow, outbox_id)


def later(hours: float = 10) -> datetime:
    return datetime.now(UTC) + timedelta(hours=hours)


# ---------------------------------------------------------------- delivery
def test_job_run_twice_sends_once(cfg, sessions, smtp):
    claim_id, decision_id = add_claim(sessions)
    outbox_id = add_outbox(sessions, claim_id, decision_id, "approved")
    RQDispatcher(cfg.redis_url).dispatch_outbox([outbox_id], "req-1")
    RQDispatcher(cfg.redis_url).dispatch_outbox([outbox_id], "req-1")  # same job id: no-op
    queue = get_queue(connect(cfg.redis_url), "notifications")
    queue.enqueue("worker.jobs.deliver_outbox", outbox_id, job_id="a-duplicate")
    assert queue.count == 2
    work(cfg)
    assert len(smtp.messages) == 1
    message = smtp.messages[0]
    assert message["To"] == "ana@example.com" and "approved" in message["Subject"]
    assert message["Message-ID"].startswith(f"<outbox-{outbox_id}.")
    parts = {p.get_content_type() for p in message.walk()}
    assert {"text/plain", "text/html"} <= parts
    done = row(sessions, outbox_id)
    assert (done.status, done.attempts) == ("sent", 1) and done.sent_at is not None
    assert deliver_message(at(cfg), outbox_id) == "skipped"
    assert len(smtp.messages) == 1


def test_webhook_500_retried_with_backoff_then_dead_then_resent(cfg, sessions, receiver):
    claim_id, decision_id = add_claim(sessions, callback_url=receiver.url)
    outbox_id = add_outbox(sessions, claim_id, decision_id, "claim.decided", "webhook")
    receiver.status = 500
    RQDispatcher(cfg.redis_url).dispatch_outbox([outbox_id])
    work(cfg)
    first = row(sessions, outbox_id)
    assert (first.status, first.attempts, first.last_error) == ("pending", 1, "Transient: HTTP 500")
    assert first.next_attempt_at > datetime.now(UTC) + timedelta(seconds=10)  # backoff
    assert relay(cfg) == 0  # not due yet
    for _ in range(2):
        assert relay(cfg, later()) == 1
        work(cfg)
    dead = row(sessions, outbox_id)
    assert (dead.status, dead.attempts) == ("dead", 3)
    with sessions() as s:
        assert [r.id for r in outbox_data.list_dead(s)] == [outbox_id]
    assert len(receiver.calls) == 3
    ids = {headers["webhook-id"] for headers, _ in receiver.calls}
    assert ids == {f"msg_outbox_{outbox_id}"}  # same id on every try
    for headers, body in receiver.calls:
        assert webhooks.verify("test-secret", headers, body)
        assert json.loads(body)["data"]["claim_id"] == claim_id

    receiver.status = 200
    resend_dead_message(at(cfg), outbox_id, actor="test")  # dispatched at once
    with pytest.raises(NotDead):
        resend_dead_message(at(cfg), outbox_id, actor="test")
    work(cfg)
    assert row(sessions, outbox_id).status == "sent"
    assert len(receiver.calls) == 4
    assert receiver.calls[-1][0]["webhook-id"] == f"msg_outbox_{outbox_id}"


def test_an_smtp_refusal_is_stored_and_logged_without_personal_data(cfg, sessions, smtp, caplog):
    """Finding 5: the server's answer quotes the recipient; the outbox keeps it masked."""
    smtp.refuse_rcpt = True
    claim_id, decision_id = add_claim(sessions)
    outbox_id = add_outbox(sessions, claim_id, decision_id, "acknowledgment")
    with caplog.at_level("INFO"):
        deliver_message(at(cfg), outbox_id)
    stored = row(sessions, outbox_id)
    assert stored.status == "dead" and "550" in stored.last_error
    ours = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith("service"))
    for text in (stored.last_error, ours):
        assert "ana@example.com" not in text and "5123 4567" not in text
    assert "[phone]" in stored.last_error


def test_a_webhook_error_body_is_stored_without_personal_data(cfg, sessions, receiver):
    receiver.status = 422
    receiver.answer = b'{"error": "unknown claimant Ana <ana@example.com>, +372 5123 4567"}'
    claim_id, decision_id = add_claim(sessions, callback_url=receiver.url)
    outbox_id = add_outbox(sessions, claim_id, decision_id, "claim.decided", "webhook")
    deliver_message(at(cfg), outbox_id)
    stored = row(sessions, outbox_id)
    assert stored.status == "dead" and stored.last_error.startswith("HTTP 422: ")
    assert "ana@example.com" not in stored.last_error and "5123" not in stored.last_error
    assert "Ana " not in stored.last_error  # the claimant's name, noted for the job


def test_smtp_refusing_is_retried_then_dead(cfg, sessions, monkeypatch):
    monkeypatch.setenv("SMTP_PORT", str(free_port()))  # nothing listens there
    claim_id, decision_id = add_claim(sessions)
    outbox_id = add_outbox(sessions, claim_id, decision_id, "acknowledgment")
    for expected in ("pending", "pending", "dead"):
        relay(cfg, later())
        work(cfg)
        assert row(sessions, outbox_id).status == expected
    dead = row(sessions, outbox_id)
    assert dead.attempts == 3 and "ConnectionRefusedError" in dead.last_error


def test_missing_language_template_falls_back_to_english(cfg, sessions, smtp, caplog):
    claim_id, decision_id = add_claim(sessions, language="fr")
    outbox_id = add_outbox(sessions, claim_id, decision_id, "acknowledgment")
    relay(cfg)
    work(cfg)
    assert row(sessions, outbox_id).status == "sent"
    assert smtp.messages[0]["Subject"].startswith("We received your claim")
    assert smtp.messages[0]["Content-Language"] == "en"
    assert any("falling back to en" in r.getMessage() for r in caplog.records)


def test_claimant_language_and_rejection_reasons(cfg, sessions, smtp):
    reasons = [
        {
            "code": "not_covered",
            "carc": "96",
            "message": "Not covered.",
            "rule": "r1",
            "action": "reject",
        }
    ]
    claim_id, decision_id = add_claim(sessions, outcome="rejected", language="es", reasons=reasons)
    add_outbox(sessions, claim_id, decision_id, "rejected")
    relay(cfg)
    work(cfg)
    body = smtp.messages[0].get_body(("plain",)).get_content()
    assert "Su póliza no cubre este tipo de siniestro." in body


# ---------------------------------------------------------------- batches and SMTP sessions
def test_batch_job_run_twice_delivers_each_row_once(cfg, sessions, smtp, receiver):
    ids = []
    for _ in range(3):
        claim_id, decision_id = add_claim(sessions, callback_url=receiver.url)
        ids.append(add_outbox(sessions, claim_id, decision_id, "approved"))
    claim_id, decision_id = add_claim(sessions, callback_url=receiver.url)
    ids.append(add_outbox(sessions, claim_id, decision_id, "claim.decided", "webhook"))
    conn = connect(cfg.redis_url)
    assert relay(cfg) == 4
    queue = get_queue(conn, "notifications")
    [job_id] = queue.job_ids  # one job for the four rows
    assert job_id == rq_adapter.batch_job_id((i, 0) for i in ids)
    # RQ delivering it twice, and a lone job for one of its rows: nothing is sent twice
    queue.enqueue("worker.jobs.deliver_outbox_batch", list(reversed(ids)), job_id="copy")
    queue.enqueue("worker.jobs.deliver_outbox", ids[0], job_id="lone")
    work(cfg)
    assert len(smtp.messages) == 3 and len(receiver.calls) == 1
    assert len(set(smtp.peers)) == 1  # one SMTP session for the whole batch
    for outbox_id in ids:
        done = row(sessions, outbox_id)
        assert (done.status, done.attempts) == ("sent", 1)
    results = [queue.fetch_job(i).return_value() for i in (job_id, "copy", "lone")]
    assert results[0] == dict.fromkeys(map(str, ids), "sent")
    assert results[1] == dict.fromkeys(map(str, reversed(ids)), "skipped")
    assert results[2] == "skipped"
    prefixes = sorted(m["Message-ID"].split(".")[0] for m in smtp.messages)
    assert prefixes == sorted(f"<outbox-{i}" for i in ids[:3])  # each row's own Message-ID


def test_rows_held_by_a_live_batch_job_are_not_enqueued_again(cfg, sessions, smtp):
    ids = []
    for _ in range(2):
        claim_id, decision_id = add_claim(sessions)
        ids.append(add_outbox(sessions, claim_id, decision_id, "approved"))
    conn = connect(cfg.redis_url)
    RQDispatcher(cfg.redis_url).dispatch_outbox(ids, "req")  # one batch job
    queue = get_queue(conn, "notifications")
    assert queue.count == 1
    assert relay(cfg) == 2  # pending: marked
    assert relay(cfg, later(0.1)) == 2  # stale: checked, live
    assert queue.count == 1
    conn.flushdb()  # Redis forgets the job and its pointers
    assert relay(cfg, later(0.2)) == 2
    assert queue.count == 1
    work(cfg)
    assert {row(sessions, i).status for i in ids} == {"sent"} and len(smtp.messages) == 2


def test_job_timeout_stops_a_batch_in_process_and_loses_nothing(cfg, sessions, smtp, monkeypatch):
    monkeypatch.setattr(rq_adapter, "DELIVERY_TIMEOUT", 1)
    ids = []
    for _ in range(3):
        claim_id, decision_id = add_claim(sessions)
        ids.append(add_outbox(sessions, claim_id, decision_id, "approved"))
    smtp.hold_first_rcpt = True  # the first send hangs past the job timeout
    assert relay(cfg) == 3
    work(cfg)  # in-process worker: RQ's SIGALRM death penalty interrupts the send
    first = row(sessions, ids[0])
    assert (first.status, first.attempts) == ("pending", 1)
    assert "JobTimeoutException" in first.last_error
    assert [row(sessions, i).status for i in ids[1:]] == ["enqueued", "enqueued"]
    smtp.release.set()
    assert relay(cfg, later()) == 3  # failed job: not live
    work(cfg)
    assert [(row(sessions, i).status, row(sessions, i).attempts) for i in ids] == [
        ("sent", 2),
        ("sent", 1),
        ("sent", 1),
    ]
    assert len(smtp.messages) == 3


def test_smtp_session_is_reused_and_reopened_after_a_drop(cfg, smtp):
    sender = smtp_adapter.SmtpSender.from_config(cfg)
    mail = smtp_adapter.Email(
        to=("ana@example.com",),
        subject="Olá",
        text="x\n",
        html="<p>x</p>",
        message_id="<outbox-1.k@example.com>",
        language="pt",
    )
    try:
        sender.send(mail)
        sender.send(mail)
        assert len(set(smtp.peers)) == 1
        smtp_adapter._cache.session.client.sock.shutdown(socket.SHUT_RDWR)  # dropped while idle
        smtp_adapter._cache.session.used -= smtp_adapter.IDLE_CHECK + 1
        sender.send(mail)  # NOOP fails, a fresh session sends it
        assert len(smtp.peers) == 3 and len(set(smtp.peers)) == 2
        sender.send(mail, reuse=False)
        assert len(set(smtp.peers)) == 3
    finally:
        smtp_adapter.close_connections()
    assert smtp_adapter._cache.session is None
    assert smtp.messages[0]["Subject"] == "Olá" and smtp.messages[0]["Content-Language"] == "pt"
    assert smtp.messages[0]["Message-ID"] == "<outbox-1.k@example.com>"


# ---------------------------------------------------------------- faults
@pytest.fixture
def private_redis(tmp_path):
    port = free_port()
    cmd = [
        "redis-server",
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        str(tmp_path),
    ]
    procs = []

    def start():
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
        procs.append(proc)
        for _ in range(100):
            try:
                if Redis(port=port).ping():
                    return
            except Exception:  # noqa: BLE001
                time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop():
        procs[-1].terminate()
        procs[-1].wait(10)

    start()
    yield type(
        "PrivateRedis", (), {"url": f"redis://127.0.0.1:{port}/0", "start": start, "stop": stop}
    )
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(10)


def test_rows_written_while_redis_is_down_are_delivered_when_it_returns(
    cfg, sessions, smtp, private_redis, monkeypatch
):
    monkeypatch.setenv("REDIS_URL", private_redis.url)
    monkeypatch.setenv("DIGEST_RECIPIENTS", "")  # only the claims' rows in this test
    cfg = config_module.load()
    private_redis.stop()
    ids = []
    for _ in range(3):
        claim_id, decision_id = add_claim(sessions)
        ids.append(add_outbox(sessions, claim_id, decision_id, "approved"))
    RQDispatcher(cfg.redis_url).dispatch_outbox(ids, "req")  # must not raise
    assert relay(cfg) == 0  # must not raise
    assert scheduler.sweep_once(cfg)["relay"] == 0
    assert {row(sessions, i).status for i in ids} == {"pending"}
    private_redis.start()
    assert relay(cfg) == 3
    assert {row(sessions, i).status for i in ids} == {"enqueued"}
    work(cfg)
    assert {row(sessions, i).status for i in ids} == {"sent"}
    assert len(smtp.messages) == 3


def test_wiped_redis_loses_nothing(cfg, sessions, smtp):
    claim_id, decision_id = add_claim(sessions)
    outbox_id = add_outbox(sessions, claim_id, decision_id, "approved")
    conn = connect(cfg.redis_url)
    assert relay(cfg) == 1
    conn.flushdb()  # Redis forgets the job
    assert relay(cfg) == 0  # not stale yet
    assert relay(cfg, later(0.1)) == 1
    work(cfg)
    assert row(sessions, outbox_id).status == "sent" and len(smtp.messages) == 1


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.slow
@pytest.mark.parametrize("fork", [False, True], ids=["in-process", "fork"])
def test_worker_killed_mid_delivery_delivers_exactly_once(cfg, sessions, smtp, env, fork):
    claim_id, decision_id = add_claim(sessions)
    outbox_id = add_outbox(sessions, claim_id, decision_id, "approved")
    smtp.hold_first_rcpt = True
    RQDispatcher(cfg.redis_url).dispatch_outbox([outbox_id])
    code = (
        "from service import config; from worker.runner import run_worker; "
        f"run_worker(config.load(), burst=True, fork={fork})"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**os.environ, **env},
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        assert smtp.entered.wait(60), "worker never reached the SMTP server"
        assert row(sessions, outbox_id).status == "sending"
        horses = children(proc.pid)  # RQ's work horse runs in its own session
        assert bool(horses) == fork, "a work horse exactly when forking"
        for pid in [proc.pid, *horses]:
            os.kill(pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    smtp.release.set()
    assert relay(cfg) == 0  # lease still held
    lease_over = datetime.now(UTC) + timedelta(seconds=RetryPolicy().lease_seconds + 1)
    assert relay(cfg, lease_over) == 1
    work(cfg)
    time.sleep(0.2)
    assert len(smtp.messages) == 1
    done = row(sessions, outbox_id)
    assert (done.status, done.attempts) == ("sent", 2)


# ---------------------------------------------------------------- follow-ups and SLA
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def outbox_events(sessions, claim_id) -> list[str]:
    with sessions() as s:
        return [
            r.event + (f":{r.payload.get('day')}" if r.event == "reminder" else "")
            for r in s.scalars(
                select(OutboxRow).where(OutboxRow.claim_id == claim_id).order_by(OutboxRow.id)
            )
        ]


def test_reminders_on_day_2_and_3_once_then_escalation_on_day_10(cfg, sessions, smtp):
    missing = [{"type": "photos"}]
    claim_id, _ = add_claim(sessions, outcome="pending_info", decided_at=T0, missing=missing)
    clock = FixedClock(T0)
    for days, expected in [
        (1, []),
        (2, ["reminder:2"]),
        (2.5, ["reminder:2"]),
        (3, ["reminder:2", "reminder:3"]),
        (9, ["reminder:2", "reminder:3"]),
    ]:
        clock.set(T0 + timedelta(days=days))
        for _ in range(2):  # a sweep that runs twice sends nothing twice
            send_reminders(at(cfg, clock.now()))
        assert outbox_events(sessions, claim_id) == expected, days
    clock.set(T0 + timedelta(days=10))
    assert send_reminders(at(cfg, clock.now()))["abandoned"] == 1
    assert send_reminders(at(cfg, clock.now()))["abandoned"] == 0
    with sessions() as s:
        claim = s.get(ClaimRow, claim_id)
        assert claim.status == "escalated"
        assert claims.latest_decision_of(s, claim_id).decided_by == "followups"
    assert outbox_events(sessions, claim_id) == ["reminder:2", "reminder:3", "escalated"]

    # end to end: the scheduler's sweep relays them and a real worker sends them
    scheduler.sweep_once(cfg, clock)
    scheduler.sweep_once(cfg, clock)
    work(cfg)
    to_claimant = [m for m in smtp.messages if m["To"] == "ana@example.com"]
    subjects = sorted(m["Subject"] for m in to_claimant)
    assert len(subjects) == 3 and sum("Reminder" in s for s in subjects) == 2
    reminder = next(m for m in smtp.messages if "Reminder" in m["Subject"])
    assert "photos" in reminder.get_body(("plain",)).get_content()


def test_documents_arriving_cancel_reminders(cfg, sessions):
    claim_id, _ = add_claim(sessions, outcome="pending_info", decided_at=T0)
    send_reminders(at(cfg, T0 + timedelta(days=2)))
    with sessions.begin() as s:  # what the API does when documents arrive
        s.get(ClaimRow, claim_id).status = "approved"
    for days in (3, 10, 11):
        send_reminders(at(cfg, T0 + timedelta(days=days)))
    assert outbox_events(sessions, claim_id) == ["reminder:2"]


def test_abandon_action_close(cfg, sessions, monkeypatch):
    monkeypatch.setenv("ABANDON_ACTION", "close")
    claim_id, _ = add_claim(sessions, outcome="pending_info", decided_at=T0)
    send_reminders(at(config_module.load(), T0 + timedelta(days=10)))
    with sessions() as s:
        assert s.get(ClaimRow, claim_id).status == "closed"


def test_escalation_past_sla_flags_overdue_and_tells_the_lead_once(cfg, sessions, smtp):
    claim_id, _ = add_claim(sessions, outcome="escalated", decided_at=T0)
    assert escalate_overdue(at(cfg, T0 + timedelta(hours=47)))["breaches"] == 0
    for _ in range(2):
        escalate_overdue(at(cfg, T0 + timedelta(hours=49)))
    assert outbox_events(sessions, claim_id) == ["sla_breach"]
    with sessions() as s:
        assert overdue_flags(s) == [claim_id]
    relay(cfg, T0 + timedelta(hours=49))
    work(cfg)
    assert smtp.messages[0]["To"] == "lead@example.com"
    assert "SLA" in smtp.messages[0]["Subject"]
    with sessions.begin() as s:  # a supervisor decides
        s.get(ClaimRow, claim_id).status = "approved"
    assert escalate_overdue(at(cfg, T0 + timedelta(hours=50)))["cleared"] == 1
    with sessions() as s:
        assert overdue_flags(s) == []


# ---------------------------------------------------------------- reports
def test_daily_digest_is_sent_once_to_the_recipients(cfg, sessions, smtp):
    add_claim(sessions, decided_at=T0)
    add_claim(sessions, outcome="escalated", decided_at=T0)
    now = T0 + timedelta(days=1, hours=-1)  # 08:00 next day, after DIGEST_HOUR_UTC
    clock = FixedClock(now)
    scheduler.sweep_once(cfg, clock)
    scheduler.sweep_once(cfg, clock)
    work(cfg)
    assert len(smtp.messages) == 1
    digest = smtp.messages[0]
    assert digest["To"] == "ops@example.com" and "2026-03-02" in digest["Subject"]
    text = digest.get_body(("plain",)).get_content()
    assert "New claims: 2" in text and "- approved: 1" in text


def test_monthly_bordereau_has_rows_and_totals(cfg, sessions):
    add_claim(sessions, decided_at=T0)
    add_claim(sessions, decided_at=T0 + timedelta(days=3))
    add_claim(sessions, outcome="rejected", decided_at=T0)
    add_claim(sessions, decided_at=T0 + timedelta(days=40))  # next month
    path = write_bordereau(at(cfg), "2026-03")
    lines = path.read_text().splitlines()
    assert lines[0].startswith("record,claim_id")
    assert sum(line.startswith("claim,") for line in lines) == 2
    total = next(line for line in lines if line.startswith("total,"))
    assert total.endswith("POL-1,device_damage,,,,EUR,240.00,140.00,2,0.00,0.00,0.00,0.00,")
    assert lines[-1] == "grand_total,,,,,,,,EUR,240.00,140.00,2,0.00,0.00,0.00,0.00,"


def overdue_flags(session) -> list[str]:
    """Claims flagged overdue and not cleared."""
    flags = session.query(ClaimFlagRow).filter(ClaimFlagRow.cleared_at.is_(None))
    return [f.claim_id for f in flags]
