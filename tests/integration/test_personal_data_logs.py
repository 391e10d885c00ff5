"""No personal data in any log line (issue 13 point 9): intake, a database error, a delivery
that fails and one that succeeds, with marker strings in every personal field, on SQLite
and PostgreSQL. The lines are read from the service's own log handler, as shipped."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import threading
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import select, text

from service import logs
from service.adapters.notifier import SmtpWebhookNotifier
from service.db.tables import OutboxRow
from service.usecases.deliver_message import deliver_messages
from tests.auth_helpers import key
from tests.conftest import make_config
from tests.e2e.conftest import free_port
from tests.helpers import POLICIES, claim

pytestmark = pytest.mark.integration

MARKERS = {
    "name": "Quillonby Marker-Name",
    "email": "quillonby.marker@example.org",
    "phone": "+44 20 7946 0321",
    "description": "Marker-Description fell off the Zyxwv balcony",
    "line": "Marker-Line-Item Xyzzy screen",
    "holder": "Marker-Holder Plughworth",
    "note": "Marker-Note spoke to Quillonby by phone",
    "reason": "Marker-Appeal-Reason my Zyxwv balcony",
}


@pytest.fixture
def log_lines():
    buffer = io.StringIO()
    root = logging.getLogger()
    saved_level, saved = root.level, list(root.handlers)
    logs.configure_logging("DEBUG", "json", stream=buffer)
    yield lambda: buffer.getvalue()
    root.handlers[:] = saved
    root.setLevel(saved_level)


class EchoingReceiver(BaseHTTPRequestHandler):
    """Refuses the webhook and echoes the request back, as careless receivers do."""

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["content-length"]))
        self.send_response(400)
        self.end_headers()
        self.wfile.write(b"bad request: " + body)

    def log_message(self, *args):
        pass


class RefusingSmtp:
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        return f"550 5.1.1 <{address}>: mailbox unavailable"


@contextlib.contextmanager
def policy_writes_failing(context):
    """Every write of a policy fails inside the database with a constraint error, until
    the block ends (the PostgreSQL database is shared by the whole run: put it back)."""
    engine = context.sessions.kw["bind"]
    sqlite = engine.dialect.name == "sqlite"
    with engine.begin() as conn:
        if sqlite:
            conn.execute(
                text(
                    "CREATE TRIGGER refuse_policies BEFORE UPDATE ON policies "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
                )
            )
        else:
            conn.execute(text("ALTER TABLE policies ADD CONSTRAINT refuse CHECK (false) NOT VALID"))
    try:
        yield
    finally:
        with engine.begin() as conn:
            if sqlite:
                conn.execute(text("DROP TRIGGER refuse_policies"))
            else:
                conn.execute(text("ALTER TABLE policies DROP CONSTRAINT refuse"))


def test_no_personal_value_reaches_a_log_line(app, client, context, tmp_path, log_lines):
    from aiosmtpd.controller import Controller

    admin = key(app, "admin")
    policy = dict(POLICIES["P-DEV"], holder=MARKERS["holder"])
    assert client.put("/v1/policies/P-DEV", json=POLICIES["P-DEV"]).status_code == 201
    body = claim(
        description=MARKERS["description"],
        line_items=[{"code": "A1", "description": MARKERS["line"], "amount": "300.00"}],
        callback_url="http://127.0.0.1:1/placeholder",
    )
    body["claimant"] = {
        "name": MARKERS["name"],
        "email": MARKERS["email"],
        "phone": MARKERS["phone"],
    }
    created = client.post("/v1/claims", json=body)
    assert created.status_code == 201, created.get_data(as_text=True)
    claim_id = created.get_json()["id"]
    appeal = client.post(f"/v1/claims/{claim_id}/appeal", json={"reason": MARKERS["reason"]})
    assert appeal.status_code in (201, 409, 422), appeal.get_data(as_text=True)

    # The error path: the database refuses a write that carries the holder's name.
    with policy_writes_failing(context):
        failed = client.put("/v1/policies/P-DEV", json=policy, headers=admin)
    assert failed.status_code >= 500 or failed.status_code == 409
    assert "Traceback" not in failed.get_data(as_text=True)
    assert any("unhandled error" in line or "database" in line for line in log_lines().splitlines())

    # Deliveries that fail (SMTP refuses the address, the receiver echoes the request).
    receiver = ThreadingHTTPServer(("127.0.0.1", 0), EchoingReceiver)
    threading.Thread(target=receiver.serve_forever, daemon=True).start()
    smtp_port = free_port()
    smtp = Controller(RefusingSmtp(), hostname="127.0.0.1", port=smtp_port)
    smtp.start()
    try:
        with context.unit_of_work() as db:
            from service.db.tables import ClaimRow

            db.get(
                ClaimRow, claim_id
            ).callback_url = f"http://127.0.0.1:{receiver.server_address[1]}/hook"
            db.commit()
            ids = list(db.scalars(select(OutboxRow.id).where(OutboxRow.claim_id == claim_id)))
        config = make_config(
            context.config.database_url,
            tmp_path,
            SMTP_PORT=smtp_port,
            WEBHOOK_MAX_ATTEMPTS=1,
        )
        sender = replace(context, config=config, notifier=SmtpWebhookNotifier(config))
        results = deliver_messages(sender, ids, each=lambda _id: logs.request_id_scope(None))
        assert set(results.values()) == {"dead"}, results
    finally:
        smtp.stop()
        receiver.shutdown()
        receiver.server_close()

    output = log_lines()
    assert len(output.splitlines()) > 5
    for line in output.splitlines():
        json.loads(line)  # one JSON object a line, still
    for field, marker in MARKERS.items():
        for part in {marker, *marker.split()} - {"the", "by", "my", "off", "fell", "screen"}:
            if len(part) >= 6:
                assert part not in output, f"{field}: {part!r} leaked into the logs"
    assert "quillonby.marker" not in output.lower()
    assert "7946" not in output
