"""The demo's guards, one by one: it never talks to a program it did not start (port,
server, Redis) and never deletes data outside its instance folder."""

from __future__ import annotations

import json
import subprocess
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from devtools.demo.children import Children
from devtools.demo.place import Place
from devtools.demo.ports import choose_port
from devtools.demo.run import _redis, _wait_for_our_api
from devtools.localservices import ServiceError, port_free

pytestmark = pytest.mark.integration


class Recording(ThreadingHTTPServer):
    def __init__(self, instance: str | None) -> None:
        super().__init__(("127.0.0.1", 0), Health)
        self.instance, self.connections, self.requests = instance, 0, []

    def verify_request(self, request, client_address):  # type: ignore[no-untyped-def]
        self.connections += 1
        return True


class Health(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802
        self.server.requests.append(f"GET {self.path}")
        body = {"status": "ok"}
        if self.server.instance:
            body["instance"] = self.server.instance
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def do_POST(self):  # noqa: N802
        self.server.requests.append(f"POST {self.path}")
        self.send_response(401)
        self.end_headers()

    def log_message(self, *args):  # type: ignore[no-untyped-def]
        pass


def serving(instance: str | None) -> Recording:
    server = Recording(instance)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture
def children(tmp_path: Path) -> Iterator[Children]:
    kids = Children(tmp_path)
    kids.procs["api"] = subprocess.Popen(["sleep", "60"], start_new_session=True)  # "alive"
    yield kids
    kids.stop()


def test_the_port_probe_never_connects_to_the_program_holding_it():
    server = serving(None)
    port = server.server_address[1]
    try:
        assert not port_free(port)
        other = choose_port(port, explicit=False)
        assert other != port and port_free(other)
        with pytest.raises(ServiceError, match=rf"port {port} is in use .* --port"):
            choose_port(port, explicit=True)
        assert server.connections == 0
    finally:
        server.shutdown()
        server.server_close()
    assert port_free(port) and choose_port(port, explicit=True) == port


def test_another_server_answering_on_the_port_is_sent_nothing_but_the_health_check(children):
    impostor = serving(None)  # answers 200 like any web server, but without our nonce
    base = f"http://127.0.0.1:{impostor.server_address[1]}"
    try:
        with pytest.raises(ServiceError, match="not the API this demo started"):
            _wait_for_our_api(base, "nonce-of-this-run", children)
        assert impostor.requests == ["GET /healthz"]
    finally:
        impostor.shutdown()
        impostor.server_close()


def test_our_own_server_is_recognised_by_its_nonce(children):
    ours = serving("nonce-of-this-run")
    base = f"http://127.0.0.1:{ours.server_address[1]}"
    try:
        assert _wait_for_our_api(base, "nonce-of-this-run", children)
        assert ours.requests == ["GET /healthz", "GET /readyz"]
    finally:
        ours.shutdown()
        ours.server_close()


def test_redis_is_the_one_you_give_or_a_private_one(tmp_path, children):
    place = Place(tmp_path / "instance", f"sqlite:///{tmp_path / 'instance/claims.db'}")
    place.prepare()
    with pytest.raises(ServiceError, match="REDIS_URL=redis://127.0.0.1:1/0 does not answer"):
        _redis({"REDIS_URL": "redis://127.0.0.1:1/0"}, place, children)
    url = _redis({}, place, children)  # nothing given: never the server on 6379
    assert urlsplit(url).port != 6379
    assert (place.logs / "redis.log").exists()


def test_fresh_deletes_only_the_instance_folders_sqlite_file_and_demo_folder(tmp_path):
    instance = tmp_path / "instance"
    place = Place(instance, f"sqlite:///{instance / 'claims.db'}")
    handle = place.lock()
    names = ("claims.db", "claims.db-wal", "claims.db-shm", "demo/mail/new/1", "keep.txt")
    for name in (*names, "audit-checkpoints/checkpoint-000001.json"):
        (instance / name).parent.mkdir(parents=True, exist_ok=True)
        (instance / name).write_text("x")
    place.wipe()
    left = sorted(str(p.relative_to(instance)) for p in instance.rglob("*"))
    assert left == ["demo", "demo/demo.lock", "keep.txt"]
    handle.close()

    with pytest.raises(ServiceError, match="DATABASE_URL is postgresql") as refused:
        Place(instance, "postgresql+psycopg://postgres:secret@db/claims").wipe()
    assert "secret" not in str(refused.value)
    outside = tmp_path / "elsewhere.db"
    outside.write_text("x")
    with pytest.raises(ServiceError, match="deletes only a database inside"):
        Place(instance, f"sqlite:///{outside}").wipe()
    assert outside.exists()


def test_one_demo_per_instance_folder(tmp_path):
    place = Place(tmp_path / "instance", f"sqlite:///{tmp_path / 'instance/claims.db'}")
    first = place.lock()
    with pytest.raises(ServiceError, match=r"another demo \(pid \d+\) is running"):
        place.lock()
    first.close()
    place.lock().close()


def test_healthz_names_the_instance_only_when_one_is_configured(sqlite_url, tmp_path):
    from service.api.app import create_app
    from tests.conftest import make_config

    for value, expected in (("run-42", {"status": "ok", "instance": "run-42"}), ("", None)):
        app = create_app(make_config(sqlite_url, tmp_path, INSTANCE_ID=value))
        body = app.test_client().get("/healthz", headers={}).get_json()
        assert body == (expected or {"status": "ok"})
