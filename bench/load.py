"""Bounded load test: a fixed number of claims from several clients, then every message out.

    .venv/bin/python bench/load.py                              # 1,000 claims, 8 clients, SQLite
    .venv/bin/python bench/load.py --claims 5000 --clients 16 --database postgres
    .venv/bin/python bench/load.py --claims 300 --json out.json  # what the test suite runs

The real server (`claims serve`, gunicorn) takes generated claims from CLIENTS
concurrent clients (each a keep-alive HTTP session with a Bearer key); every
third claim carries a callback URL. Then `claims worker --burst` delivers what
the API handed to RQ, to an SMTP sink and a webhook receiver on loopback (no
relay sweep: the API's own hand-off must have lost nothing). Checked, and
printed:

- no 5xx, and every answer a 201;
- every 201 has its claim row, with one decision and the status it answered;
- every message the claim calls for is in the outbox (acknowledgment and decision
  email when the claimant has an address, the webhook when a callback URL was given);
- after the worker, every outbox row is `sent`, the sink holds one email per email
  row and the receiver one POST per webhook row: nothing lost, nothing twice.

Exit status 1 when a check fails. Timings are printed, never checked.
"""

# ruff: noqa: E402 - the path fix below must run before the other imports
from __future__ import annotations

import sys  # noqa: I001 - the path fix must come before any other import
from os.path import dirname, realpath

_HERE = dirname(realpath(__file__))
sys.path[:] = [p for p in sys.path if p not in (_HERE, "")] + [_HERE]

import argparse
import contextlib
import json
import os
import subprocess
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from _lib import (
    ROOT,
    conditions,
    free_port,
    make_api_key,
    print_conditions,
    print_table,
    scratch_postgres,
    stop,
    wait_ready,
)

BIN = Path(sys.executable).parent
REDIS_URL = os.environ.get("BENCH_LOAD_REDIS_URL", "redis://127.0.0.1:6379/13")


@contextlib.contextmanager
def smtp_sink() -> Iterator[tuple[int, list[bytes]]]:
    """An SMTP server on loopback that keeps every message."""
    from aiosmtpd.controller import Controller

    received: list[bytes] = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):  # noqa: N802, ANN001
            received.append(envelope.content)
            return "250 Message accepted"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, received
    finally:
        controller.stop()


@contextlib.contextmanager
def webhook_receiver() -> Iterator[tuple[str, list[dict[str, str]]]]:
    """An HTTP server on loopback that answers 200 to every POST and keeps its headers."""
    calls: list[dict[str, str]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            calls.append(dict(self.headers))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks", calls
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def database(kind: str, tmp: Path) -> Iterator[str | None]:
    if kind == "postgres":
        with scratch_postgres() as url:
            yield url
    else:
        yield f"sqlite:///{tmp / 'claims.db'}"


@contextlib.contextmanager
def serving(env: dict[str, str], workers: int, log: Path) -> Iterator[str]:
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(BIN / "claims"), "serve", "--host", "127.0.0.1", "--port", str(port)]
            + ["--workers", str(workers)],
            env=env,
            start_new_session=True,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_ready(port, proc)
            yield f"http://127.0.0.1:{port}"
        finally:
            stop(proc)


def post_all(
    base: str, key: str, bodies: list[dict[str, Any]], clients: int
) -> list[tuple[int, dict[str, Any], dict[str, Any]]]:
    """Each client posts its share of the bodies in order over one keep-alive session."""
    import requests

    headers = {"Authorization": f"Bearer {key}"} if key else {}

    def share(start: int) -> list[tuple[int, dict[str, Any], dict[str, Any]]]:
        out = []
        with requests.Session() as session:
            for body in bodies[start::clients]:
                response = session.post(f"{base}/v1/claims", json=body, headers=headers, timeout=60)
                try:
                    document = response.json()
                except ValueError:
                    document = {}
                out.append((response.status_code, body, document))
        return out

    with ThreadPoolExecutor(clients) as pool:
        return [r for part in pool.map(share, range(clients)) for r in part]


def stored(url: str) -> tuple[dict[str, Any], Counter, Counter]:
    """Claims with their decision counts; outbox rows per claim; outbox rows per status."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            claims = {
                r.id: r
                for r in conn.execute(  # noqa: C416 - rows by id
                    text(
                        "SELECT c.id, c.status, c.external_ref, count(d.id) AS decisions "
                        "FROM claims c LEFT JOIN decisions d ON d.claim_id = c.id GROUP BY c.id"
                    )
                )
            }
            rows = conn.execute(text("SELECT claim_id, channel, status FROM outbox")).all()
    finally:
        engine.dispose()
    per_claim = Counter((r.claim_id, r.channel) for r in rows)
    per_status = Counter((r.channel, r.status) for r in rows)
    return claims, per_claim, per_status


def run(args: argparse.Namespace) -> dict[str, Any]:
    from devtools.demo.generate import generate

    report: dict[str, Any] = {"claims": args.claims, "clients": args.clients}
    with contextlib.ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-load-")))
        smtp_port, emails = stack.enter_context(smtp_sink())
        hook_url, hooks = stack.enter_context(webhook_receiver())
        url = stack.enter_context(database(args.database, tmp))
        if url is None:
            raise SystemExit("no database")
        env = dict(
            os.environ,
            DATABASE_URL=url,
            INSTANCE_DIR=str(tmp),
            REDIS_URL=REDIS_URL,
            SMTP_HOST="127.0.0.1",
            SMTP_PORT=str(smtp_port),
            CALLBACK_ALLOW_PRIVATE="true",
            LOG_LEVEL="WARNING",
            LOG_FORMAT="text",
            RATE_LIMIT="100000000/minute",
        )
        _clean_redis()
        subprocess.run([str(BIN / "claims"), "db", "upgrade"], env=env, check=True)
        policies, bodies = generate(args.policies, args.claims, args.seed, datetime.now(UTC).date())
        for i, body in enumerate(bodies):
            body["external_ref"] = f"LOAD-{args.seed}-{i}"
            if i % 3 == 0:
                body["callback_url"] = hook_url
        (tmp / "policies.json").write_text(json.dumps(policies))
        subprocess.run(
            [str(BIN / "claims"), "policies", "import", str(tmp / "policies.json")],
            env=env,
            check=True,
            capture_output=True,
        )
        key = make_api_key(env, name="load")
        with serving(env, args.workers, tmp / "server.log") as base:
            started = time.perf_counter()
            results = post_all(base, key, bodies, args.clients)
            report["post_seconds"] = time.perf_counter() - started
        claims, per_claim, _ = stored(url)
        started = time.perf_counter()
        subprocess.run([str(BIN / "claims"), "worker", "--burst"], env=env, check=True, timeout=900)
        report["deliver_seconds"] = time.perf_counter() - started
        _, _, per_status = stored(url)
        report.update(_checks(results, claims, per_claim, per_status, emails, hooks))
        _clean_redis()
    return report


def _checks(
    results: list[tuple[int, dict[str, Any], dict[str, Any]]],
    claims: dict[str, Any],
    per_claim: Counter,
    per_status: Counter,
    emails: list[bytes],
    hooks: list[dict[str, str]],
) -> dict[str, Any]:
    statuses = Counter(status for status, _, _ in results)
    missing, wrong, messages_missing = [], [], []
    for status, body, document in results:
        if status != 201:
            continue
        row = claims.get(document.get("id"))
        if row is None:
            missing.append(body["external_ref"])
            continue
        if row.decisions != 1 or row.status != document["decision"]["outcome"]:
            wrong.append(body["external_ref"])
        want_email = 2 if body["claimant"].get("email") else 0  # acknowledgment + decision
        want_hook = 1 if body.get("callback_url") else 0
        if (per_claim[(row.id, "email")], per_claim[(row.id, "webhook")]) != (
            want_email,
            want_hook,
        ):
            messages_missing.append(body["external_ref"])
    email_rows = sum(n for (channel, _), n in per_status.items() if channel == "email")
    hook_rows = sum(n for (channel, _), n in per_status.items() if channel == "webhook")
    not_sent = {f"{c}:{s}": n for (c, s), n in per_status.items() if s != "sent"}
    checks = {
        "no 5xx": sum(n for s, n in statuses.items() if s >= 500) == 0,
        "every answer 201": statuses[201] == len(results),
        "every 201 has its row": not missing,
        "one decision, the status answered": not wrong,
        "every message in the outbox": not messages_missing,
        "every outbox row sent": not not_sent,
        "one email per email row": len(emails) == email_rows,
        "one POST per webhook row": len(hooks) == hook_rows,
    }
    return {
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "missing_rows": missing[:20],
        "wrong_rows": wrong[:20],
        "messages_missing": messages_missing[:20],
        "not_sent": not_sent,
        "emails": len(emails),
        "email_rows": email_rows,
        "webhooks": len(hooks),
        "webhook_rows": hook_rows,
        "checks": checks,
    }


def _clean_redis() -> None:
    try:
        from redis import Redis

        client = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        keys = list(client.scan_iter("rq:*", count=1000)) + list(
            client.scan_iter("claims:*", count=1000)
        )
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    except Exception as exc:  # noqa: BLE001 - cleanup is best effort
        print(f"(could not clean Redis {REDIS_URL}: {exc})")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--claims", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--policies", type=int, default=80)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--json", default="", help="also write the report here")
    args = parser.parse_args(argv)
    print_conditions(
        "load: bounded intake, then delivery of every message",
        conditions(
            claims=f"{args.claims:,} generated claims, every third with a callback URL",
            clients=f"{args.clients} concurrent keep-alive sessions, Bearer key",
            server=f"claims serve, {args.workers} gunicorn workers, {args.database}",
            delivery="claims worker --burst after the posts (no relay sweep); SMTP sink and "
            "webhook receiver on loopback",
        ),
    )
    report = run(args)
    print_table(
        ["claims", "clients", "post s", "claims/s", "deliver s", "emails", "webhooks"],
        [
            [
                report["claims"],
                report["clients"],
                report["post_seconds"],
                report["claims"] / report["post_seconds"],
                report["deliver_seconds"],
                report["emails"],
                report["webhooks"],
            ]
        ],
        f"answers: {report['statuses']}",
    )
    print_table(
        ["check", "met"],
        [[name, "yes" if ok else "NO"] for name, ok in report["checks"].items()],
        "nothing lost",
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2, default=str))
    return 0 if all(report["checks"].values()) else 1


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
