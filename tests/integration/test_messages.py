"""The console's Messages: every letter and webhook about a claim, exactly as it was sent.

Real SMTP (aiosmtpd) and a real HTTP receiver on loopback; the worker's delivery code
sends; the pages are read through the Flask test client on SQLite and PostgreSQL.
"""

from __future__ import annotations

import email
import re
import socket
import threading
from dataclasses import replace
from email import policy
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from markupsafe import escape
from sqlalchemy import select

from service.adapters.notifier import SmtpWebhookNotifier
from service.db.tables import MessageCopyRow, OutboxRow
from service.usecases.context import build_context
from service.usecases.deliver_message import deliver_message
from tests.auth_helpers import PASSWORD, user
from tests.conftest import make_config
from tests.helpers import claim, put_policies

pytestmark = pytest.mark.integration


class Catcher:
    """aiosmtpd handler keeping every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
        self.messages.append(email.message_from_bytes(envelope.content, policy=policy.default))
        return "250 Message accepted"


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller

    catcher = Catcher()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        catcher.port = probe.getsockname()[1]
    controller = Controller(catcher, hostname="127.0.0.1", port=catcher.port)
    controller.start()
    yield catcher
    controller.stop()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        self.server.bodies.append(self.rfile.read(int(self.headers["content-length"])).decode())
        self.send_response(self.server.status)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver():
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.bodies, server.status = [], 204
    threading.Thread(target=server.serve_forever, daemon=True).start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/claims"
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def context(db_url, tmp_path, clock, smtp):
    ctx = build_context(make_config(db_url, tmp_path, SMTP_PORT=smtp.port))
    ctx.clock = clock
    return ctx


def login(client, username: str) -> None:
    client.default_auth = False
    page = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    form = {"username": username, "password": PASSWORD, "csrf_token": token}
    assert client.post("/console/login", data=form).status_code == 302


def outbox_ids(context, claim_id: str) -> list[int]:
    with context.unit_of_work() as session:
        query = select(OutboxRow.id).where(OutboxRow.claim_id == claim_id).order_by(OutboxRow.id)
        return list(session.scalars(query))


def deliver_all(context, claim_id: str, config=None) -> list[str]:
    if config is not None:  # the same context, delivering with other settings
        context = replace(context, config=config, notifier=SmtpWebhookNotifier(config))
    return [deliver_message(context, i) for i in outbox_ids(context, claim_id)]


def copies(context, claim_id: str) -> dict[int, MessageCopyRow]:
    with context.unit_of_work() as session:
        query = (
            select(MessageCopyRow)
            .join(OutboxRow, OutboxRow.id == MessageCopyRow.outbox_id)
            .where(OutboxRow.claim_id == claim_id)
        )
        return {c.outbox_id: c for c in session.scalars(query)}


def plain(message: email.message.EmailMessage) -> str:
    return message.get_body(("plain",)).get_content().replace("\r\n", "\n")


def html(message: email.message.EmailMessage) -> str:
    return message.get_body(("html",)).get_content().replace("\r\n", "\n")


def test_the_claim_page_shows_every_message_exactly_as_it_was_sent(
    app, client, context, smtp, receiver
):
    put_policies(client, ["P-DEV"])
    body = claim(callback_url=receiver.url)
    body["claimant"].update(name="Lucía Pérez", preferred_language="es")
    created = client.post("/v1/claims", json=body).get_json()
    claim_id = created["id"]
    user(app, "sue", "supervisor")
    login(client, "sue")

    before = client.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    assert "Messages <small>(3)</small>" in before
    assert before.count("Not rendered yet") == 3  # queued, no attempt yet: nothing kept

    assert deliver_all(context, claim_id) == ["sent", "sent", "sent"]
    page = client.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    kept = copies(context, claim_id)
    assert len(smtp.messages) == 2 and len(receiver.bodies) == 1
    for received in smtp.messages:
        copy = next(c for c in kept.values() if c.subject == received["Subject"])
        assert copy.language == "es" == received["Content-Language"]
        assert copy.recipient == received["To"] == "sam@example.com"
        assert copy.body_text.replace("\r\n", "\n") == plain(received)
        assert copy.body_html.replace("\r\n", "\n") == html(received)
        assert str(escape(copy.subject)) in page
        assert str(escape(copy.body_text)) in page
        letter = client.get(f"/console/messages/{copy.outbox_id}/letter")
        assert letter.get_data(as_text=True).replace("\r\n", "\n") == html(received)
        assert letter.headers["Content-Security-Policy"].startswith("sandbox;")
        assert f'src="/console/messages/{copy.outbox_id}/letter"' in page
    assert "Lucía" in plain(smtp.messages[0])  # the letter is the claimant's, in Spanish
    webhook = next(c for c in kept.values() if c.subject is None)
    assert webhook.body_text == receiver.bodies[0] and webhook.recipient == receiver.url
    assert str(escape(webhook.body_text)) in page
    assert "to the intake system by webhook" in page and "to the claimant by email" in page
    assert page.count('class="badge state-sent"') == 3


def test_a_failed_attempt_keeps_what_it_tried_and_the_next_one_replaces_it(
    app, client, context, smtp, tmp_path, db_url
):
    put_policies(client, ["P-DEV"])
    claim_id = client.post("/v1/claims", json=claim()).get_json()["id"]
    closed = make_config(db_url, tmp_path, SMTP_PORT=1)  # nothing listens: refused
    assert deliver_all(context, claim_id, closed) == ["retry", "retry"]
    first = copies(context, claim_id)
    assert {c.attempt for c in first.values()} == {1} and not smtp.messages
    user(app, "sue", "supervisor")
    login(client, "sue")
    page = client.get(f"/console/claims/{claim_id}").get_data(as_text=True)
    assert page.count("pending, 1 attempt") == 2 and "ConnectionRefusedError" in page

    with context.unit_of_work() as session:  # due again now
        for row in session.scalars(select(OutboxRow).where(OutboxRow.claim_id == claim_id)):
            row.next_attempt_at = context.clock.now()
        session.commit()
    assert deliver_all(context, claim_id) == ["sent", "sent"]
    second = copies(context, claim_id)
    assert {c.attempt for c in second.values()} == {2}
    assert sorted(c.subject for c in second.values()) == sorted(m["Subject"] for m in smtp.messages)


def test_claimant_text_cannot_run_in_the_console(app, client, context, smtp):
    put_policies(client, ["P-DEV"])
    attack = '<script>alert("x")</script><img src=x onerror=alert(1)>'
    body = claim()
    body["claimant"]["name"] = attack
    claim_id = client.post("/v1/claims", json=body).get_json()["id"]
    deliver_all(context, claim_id)
    user(app, "adm", "admin")
    login(client, "adm")

    response = client.get(f"/console/claims/{claim_id}")
    page = response.get_data(as_text=True)
    assert attack not in page and "<img src=x" not in page
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self';" in csp and "unsafe-inline" not in csp
    assert "frame-ancestors 'none'" in csp
    for outbox_id, copy in copies(context, claim_id).items():
        assert attack in copy.body_text  # the letter says what the claimant typed ...
        letter = client.get(f"/console/messages/{outbox_id}/letter").get_data(as_text=True)
        assert "<script>" not in letter and "<img src=x" not in letter  # ... as text
    admin = client.get("/console/messages").get_data(as_text=True)
    assert attack not in admin and "<img src=x" not in admin


def test_admin_page_lists_recent_messages_with_filters(
    app, client, context, smtp, receiver, monkeypatch
):
    put_policies(client, ["P-DEV"])
    plain_claim = client.post("/v1/claims", json=claim()).get_json()["id"]
    hooked = client.post("/v1/claims", json=claim(callback_url=receiver.url)).get_json()["id"]
    deliver_all(context, plain_claim)
    receiver.status = 400  # refused for good: the webhook goes dead
    assert deliver_all(context, hooked) == ["sent", "sent", "dead"]
    user(app, "adm", "admin")
    user(app, "sue", "supervisor")
    login(client, "adm")

    def rows(query: str = "") -> list[str]:
        response = client.get(f"/console/messages{query}")
        assert response.status_code == 200, response.get_data(as_text=True)
        return re.findall(r'<tr data-message="(\d+)">', response.get_data(as_text=True))

    everything = rows()
    assert len(everything) == 5 and everything == sorted(everything, key=int, reverse=True)
    assert len(rows("?channel=webhook")) == 1
    assert rows("?status=dead") == rows("?channel=webhook")
    assert len(rows("?event=acknowledgment")) == 2
    assert len(rows("?from=2026-06-15&to=2026-06-15")) == 5  # the fixed clock's day
    assert rows("?from=2026-06-16") == [] and rows("?to=2026-06-14") == []
    dead = client.get("/console/messages?status=dead").get_data(as_text=True)
    assert "HTTP 400" in dead and "intake system" in dead

    monkeypatch.setattr("service.api.console.messages.PAGE", 2)
    first = client.get("/console/messages?channel=email").get_data(as_text=True)
    older = re.search(r'href="(/console/messages\?[^"]+)">Older messages', first).group(1)
    assert "channel=email" in older
    second = client.get(older.replace("&amp;", "&")).get_data(as_text=True)
    ids = re.findall(r'<tr data-message="(\d+)">', first + second)
    assert len(ids) == 4 and len(set(ids)) == 4

    for bad in ("channel=fax", "status=lost", "event=x", "from=yesterday", "before=-1"):
        assert client.get(f"/console/messages?{bad}").status_code == 400, bad
    supervisor = app.test_client()
    login(supervisor, "sue")
    assert supervisor.get("/console/messages").status_code == 403  # admins only
    assert supervisor.get("/console/messages/999999/letter").status_code == 404
