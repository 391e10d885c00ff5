"""Callback URLs (issue 13 point 8): refused at intake and at delivery when they lead to a
private address, also wrapped in IPv6 forms; resolved once, sent to the checked address.

Every request here goes to a loopback receiver on the allow-list; nothing is sent
anywhere else (the refused URLs are refused before any connection is made).
"""

from __future__ import annotations

import shutil
import ssl
import subprocess
import threading
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from service.adapters import webhooks
from service.adapters.notifier import SmtpWebhookNotifier
from service.db.tables import ClaimRow, DecisionRow, OutboxRow
from service.usecases.deliver_message import deliver_message
from tests.conftest import make_config
from tests.helpers import claim, put_policies

pytestmark = pytest.mark.integration

EMBEDDED_LOOPBACK = [
    "http://[64:ff9b::7f00:1]:{port}/hook",
    "http://[2002:7f00:1::]:{port}/hook",
    "http://[64:ff9b:1::7f00:1]:{port}/hook",
    "http://[::ffff:7f00:1]:{port}/hook",
]


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["content-length"])).decode()
        self.server.calls.append(({k.lower(): v for k, v in self.headers.items()}, body))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


def serve(server: ThreadingHTTPServer):
    server.calls = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    return server


@pytest.fixture
def receiver():
    server = serve(ThreadingHTTPServer(("127.0.0.1", 0), Receiver))
    server.port = server.server_address[1]
    yield server
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("template", EMBEDDED_LOOPBACK)
def test_intake_refuses_an_embedded_loopback_callback(
    client, context, receiver, template, monkeypatch
):
    strict = replace(
        context.config, callback_allow_private=False, callback_allowlist=("127.0.0.1",)
    )
    monkeypatch.setattr(context, "config", strict)
    put_policies(client, ["P-DEV"])
    body = claim(callback_url=template.format(port=receiver.port))
    response = client.post("/v1/claims", json=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["errors"][0]["field"] == "callback_url"
    allowed = claim(callback_url=f"http://127.0.0.1:{receiver.port}/hook")
    assert client.post("/v1/claims", json=allowed).status_code == 201


def _claim_with_callback(sessions, url: str) -> int:
    now = datetime.now(UTC)
    claim_id = str(uuid.uuid4())
    with sessions.begin() as s:
        s.add(
            ClaimRow(
                id=claim_id,
                client_id="client-a",
                external_ref=f"EXT-{claim_id[:8]}",
                policy_number="POL-1",
                claim_type="device_damage",
                date_of_loss=date(2026, 1, 5),
                reported_at=now,
                amount=Decimal("120.00"),
                currency="EUR",
                description="",
                claimant={"name": "Ana", "email": "ana@example.com"},
                preferred_language="en",
                callback_url=url,
                payload={},
                status="approved",
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
        decision = DecisionRow(
            claim_id=claim_id,
            outcome="approved",
            payable_amount=Decimal("70.00"),
            reasons=[],
            missing_documents=[],
            trace=[],
            facts={},
            decided_by="rules",
            decided_at=now,
        )
        s.add(decision)
        s.flush()
        row = OutboxRow(
            dedupe_key=f"claim:{claim_id}:decision:{decision.id}:webhook",
            claim_id=claim_id,
            event="claim.decided",
            channel="webhook",
            payload={"claim_id": claim_id, "decision_id": decision.id},
            status="pending",
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
        s.add(row)
        s.flush()
        return row.id


@pytest.mark.parametrize("template", EMBEDDED_LOOPBACK)
def test_delivery_refuses_an_embedded_loopback_callback(context, tmp_path, receiver, template):
    """A URL stored before the check (or while private callbacks were allowed) is refused
    at delivery too: dead at once, nothing sent."""
    config = make_config(
        context.config.database_url,
        tmp_path,
        CALLBACK_ALLOW_PRIVATE=False,
        CALLBACK_ALLOWLIST=("127.0.0.1",),
    )
    strict = replace(context, config=config, notifier=SmtpWebhookNotifier(config))
    outbox_id = _claim_with_callback(context.sessions, template.format(port=receiver.port))
    assert deliver_message(strict, outbox_id) == "dead"
    with context.sessions() as s:
        assert "private" in s.get(OutboxRow, outbox_id).last_error
    assert receiver.calls == []
    allowed = _claim_with_callback(context.sessions, f"http://127.0.0.1:{receiver.port}/hook")
    assert deliver_message(strict, allowed) == "sent"
    assert len(receiver.calls) == 1


def test_the_name_is_resolved_once_and_the_checked_address_is_called(receiver):
    """DNS rebinding: a second lookup would answer 127.0.0.2 (nothing listens there); the
    request still reaches the address the first lookup gave, with the URL's Host."""
    answers = iter([["127.0.0.1"], ["127.0.0.2"], ["127.0.0.2"]])
    lookups = []

    def resolve(host, port):
        lookups.append(host)
        return next(answers)

    url = f"http://hooks.test:{receiver.port}/hook?x=1"
    result = webhooks.post(
        url, {"content-type": "application/json"}, "{}", allowlist=["hooks.test"], resolve=resolve
    )
    assert result.status == 200
    assert lookups == ["hooks.test"]
    headers, body = receiver.calls[0]
    assert headers["host"] == f"hooks.test:{receiver.port}"
    assert body == "{}"


def test_a_name_resolving_anywhere_private_is_refused_before_connecting(receiver):
    def resolve(host, port):
        return ["127.0.0.1"]

    with pytest.raises(webhooks.CallbackRefused):
        webhooks.post(f"http://hooks.test:{receiver.port}/hook", {}, "{}", resolve=resolve)
    assert receiver.calls == []


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_https_keeps_the_server_name_for_sni_and_the_certificate(tmp_path):
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-subj",
            "/CN=hooks.test",
            "-addext",
            "subjectAltName=DNS:hooks.test",
        ],
        check=True,
        capture_output=True,
    )
    names = []
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    server_tls.sni_callback = lambda sock, name, ctx: names.append(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    server.socket = server_tls.wrap_socket(server.socket, server_side=True)
    serve(server)
    try:
        port = server.server_address[1]
        client_tls = ssl.create_default_context(cafile=str(cert))
        result = webhooks.post(
            f"https://hooks.test:{port}/hook",
            {"content-type": "application/json"},
            "{}",
            allowlist=["hooks.test"],
            resolve=lambda host, p: ["127.0.0.1"],
            tls=client_tls,
        )
        assert result.status == 200
        assert names == ["hooks.test"]
        assert server.calls[0][0]["host"] == f"hooks.test:{port}"
    finally:
        server.shutdown()
        server.server_close()
