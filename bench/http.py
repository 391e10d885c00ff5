"""Sustained POST /v1/claims under gunicorn (SQLite, PostgreSQL) beside a minimal Flask floor.

    .venv/bin/python bench/http.py                       # 10 s per target, about 1 minute
    .venv/bin/python bench/http.py --duration 60 --connections 16 --workers 2

Needs wrk (Debian: apt-get install -y wrk). Each target is served by gunicorn
with the same worker count (sync workers): the floor is a Flask app whose only
view parses the JSON body and answers 201 with a small JSON document. A wrk
Lua script posts generated claims, each with a unique external_ref, over 16
connections. PostgreSQL runs on a scratch database created on the local
server and dropped afterwards. If the API requires keys, one is created with
`claims apikeys create --role intake --name bench` and sent as a Bearer token.

After each run the database is checked: every 201 has its claim row.
"""

# ruff: noqa: E402 - the path fix below must run before the other imports
from __future__ import annotations

import sys  # noqa: I001 - the path fix must come before any other import
from os.path import dirname, realpath

# bench/ goes last on the path: this folder's http.py must not shadow the standard library.
_HERE = dirname(realpath(__file__))
sys.path[:] = [p for p in sys.path if p not in (_HERE, "")] + [_HERE]

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

from _lib import (  # noqa: E402
    ROOT,
    TODAY,
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
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
# (ratio to the floor, p99 ms): the goal of issue 15, then the long-run goal
GOALS = ((0.25, 50.0), (0.5, 25.0))

FLOOR_APP = """
import uuid
from flask import Flask, jsonify, request

app = Flask(__name__)


@app.post("/v1/claims")
def post_claim():
    data = request.get_json()
    return jsonify(id=str(uuid.uuid4()), external_ref=data["external_ref"],
                   status="received"), 201


@app.get("/healthz")
def healthz():
    return {"status": "ok"}
"""

LUA = r"""
local templates = {}
local counter = 0
local threads = {}
local thread_no = 0

for line in io.lines(os.getenv("BENCH_CLAIMS")) do
  templates[#templates + 1] = line
end

local headers = {["Content-Type"] = "application/json"}
local key = os.getenv("BENCH_API_KEY")
if key and key ~= "" then headers["Authorization"] = "Bearer " .. key end

setup = function(thread)
  thread:set("tid", thread_no)
  thread_no = thread_no + 1
  table.insert(threads, thread)
end

init = function(args)
  statuses = {}
  prefix = os.getenv("BENCH_RUN") .. "-" .. tid .. "-"
end

request = function()
  counter = counter + 1
  local body = string.gsub(templates[(counter % #templates) + 1], "__REF__", prefix .. counter, 1)
  return wrk.format("POST", "/v1/claims", headers, body)
end

response = function(status, hdrs, body)
  statuses[status] = (statuses[status] or 0) + 1
end

done = function(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    local s = thread:get("statuses")
    for code, n in pairs(s) do counts[tostring(code)] = (counts[tostring(code)] or 0) + n end
  end
  local parts = {}
  for code, n in pairs(counts) do parts[#parts + 1] = string.format('"%s": %d', code, n) end
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, ' ..
    '"p99_us": %d, "max_us": %d, "socket_errors": %d, "timeouts": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max,
    summary.errors.connect + summary.errors.read + summary.errors.write,
    summary.errors.timeout, table.concat(parts, ", ")))
end
"""


def run_wrk(
    port: int, args: argparse.Namespace, claims_file: Path, lua: Path, key: str, label: str
) -> dict:
    env = dict(
        os.environ,
        BENCH_CLAIMS=str(claims_file),
        BENCH_API_KEY=key,
        BENCH_RUN=f"{label}-{uuid.uuid4().hex[:8]}",
    )
    base = [
        "wrk",
        "-t",
        str(args.threads),
        "-c",
        str(args.connections),
        "--latency",
        "-s",
        str(lua),
        f"http://127.0.0.1:{port}/v1/claims",
    ]
    if args.warmup > 0:
        subprocess.run(
            [*base[:1], "-d", f"{args.warmup}s", *base[1:]],
            env=env,
            capture_output=True,
            check=False,
        )
    env["BENCH_RUN"] = f"{label}-{uuid.uuid4().hex[:8]}"
    out = subprocess.run(
        [base[0], "-d", f"{args.duration}s", "--timeout", "10s", *base[1:]],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    for line in out.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            result = json.loads(line.split(" ", 1)[1])
            seconds = result["duration_us"] / 1e6
            result["rps"] = result["requests"] / seconds
            result["ok_rps"] = (
                sum(n for code, n in result["statuses"].items() if code.startswith("2")) / seconds
            )
            return result
    raise RuntimeError(f"wrk gave no result:\n{out.stdout}\n{out.stderr}")


SPIED = (  # the request's parts whose share of the workers' time --spy reports
    ("submit_claim", "the use case (all below)"),
    ("get_policy", "policy (+ row lock)"),
    ("history_for", "history (tallies)"),
    ("insert_claim", "insert claim + documents"),
    ("insert_decision", "insert decision"),
    ("add_outbox_many", "insert outbox rows"),
    ("append_audit", "audit event (the claim's own chain: one insert)"),
    ("adjudicate", "rules engine"),
    ("dispatch_outbox", "hand-off to RQ"),
    ("authenticate", "authentication + rate limit"),
    ("_check_rate_limit", "rate limit (Redis)"),
    ("Parser.parse", "request validation (marshmallow)"),
)
WAITS = ("Connection.wait", "do_commit", "do_execute", "_read_from_socket", "read_response")


def start_py_spy(pid: int, args: argparse.Namespace, label: str) -> subprocess.Popen | None:
    if not args.spy or shutil.which(str(BIN / "py-spy")) is None:
        return None
    folder = Path(args.spy)
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / (label.replace(" ", "_").replace("+", "").lower() + ".txt")
    return subprocess.Popen(
        [
            str(BIN / "py-spy"),
            "record",
            "--pid",
            str(pid),
            "--subprocesses",
            "--rate",
            "400",
            "--format",
            "raw",
            "--duration",
            str(args.warmup + args.duration),
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def spy_table(path: Path) -> list[list]:
    """Shares of the samples taken inside a request (Flask.wsgi_app): each part's
    inclusive share, and how much of it is spent waiting on the database or Redis."""
    total = 0
    parts = {name: [0, 0] for name, _ in SPIED}
    waiting = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if "Flask.wsgi_app" not in stack:
            continue
        n = int(count)
        total += n
        frames = [f.split(" (")[0] for f in stack.split(";")]
        waits = any(w in frames[-1] or w in ";".join(frames[-4:]) for w in WAITS)
        waiting += n if waits else 0
        for name, counts in parts.items():
            if any(f == name or f.endswith("." + name) for f in frames):
                counts[0] += n
                counts[1] += n if waits else 0
    if not total:
        return []
    rows = [
        [label, f"{parts[name][0] / total:.0%}", f"{parts[name][1] / total:.0%}"]
        for name, label in SPIED
    ]
    rows.append(["whole request", "100%", f"{waiting / total:.0%}"])
    return rows


def server_env(database_url: str, instance: Path) -> dict[str, str]:
    return dict(
        os.environ,
        DATABASE_URL=database_url,
        INSTANCE_DIR=str(instance),
        REDIS_URL=REDIS_URL,
        LOG_LEVEL="WARNING",
        LOG_FORMAT="text",
        RATE_LIMIT="100000000/minute",
        PYTHONUNBUFFERED="1",
    )


def count_claims(database_url: str) -> int:
    from sqlalchemy import create_engine, text

    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return int(conn.execute(text("SELECT count(*) FROM claims")).scalar_one())
    finally:
        engine.dispose()


def bench_api(
    label: str,
    database_url: str,
    args: argparse.Namespace,
    workdir: Path,
    policies_file: Path,
    claims_file: Path,
    lua: Path,
) -> dict:
    instance = workdir / f"instance-{label}"
    env = server_env(database_url, instance)
    subprocess.run([str(BIN / "claims"), "db", "upgrade"], env=env, check=True, capture_output=True)
    subprocess.run(
        [str(BIN / "claims"), "policies", "import", str(policies_file)],
        env=env,
        check=True,
        capture_output=True,
    )
    key = make_api_key(env)
    port = free_port()
    proc = subprocess.Popen(
        [
            str(BIN / "claims"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(args.workers),
        ],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=open(workdir / f"{label}.log", "w"),
    )  # noqa: SIM115
    try:
        wait_ready(port, proc)
        before = count_claims(database_url)
        spy = start_py_spy(proc.pid, args, label)
        result = run_wrk(port, args, claims_file, lua, key, label)
        if spy is not None:
            spy.wait(timeout=60)
        created_total = count_claims(database_url) - before
    finally:
        stop(proc)
    result["label"] = label
    result["auth"] = "Bearer key" if key else "none"
    result["rows_ok"] = created_total >= result["statuses"].get("201", 0)
    return result


def bench_floor(args: argparse.Namespace, workdir: Path, claims_file: Path, lua: Path) -> dict:
    (workdir / "floor_app.py").write_text(FLOOR_APP)
    port = free_port()
    proc = subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "--chdir",
            str(workdir),
            "-w",
            str(args.workers),
            "-k",
            "sync",
            "--keep-alive",
            "5",
            "-b",
            f"127.0.0.1:{port}",
            "floor_app:app",
        ],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(port, proc)
        result = run_wrk(port, args, claims_file, lua, "", "floor")
    finally:
        stop(proc)
    result["label"] = "minimal Flask floor"
    result["auth"] = "none"
    result["rows_ok"] = True
    return result


def prepare_data(workdir: Path, args: argparse.Namespace) -> tuple[Path, Path]:
    from devtools.demo.generate import generate

    policies, claims = generate(args.policies, args.templates, args.seed, TODAY)
    policies_file = workdir / "policies.json"
    policies_file.write_text(json.dumps(policies))
    claims_file = workdir / "claims.jsonl"
    with claims_file.open("w") as handle:
        for body in claims:
            body = dict(body, external_ref="__REF__")
            handle.write(json.dumps(body, separators=(",", ":")) + "\n")
    return policies_file, claims_file


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per target")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of warm-up per target")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--policies", type=int, default=500)
    parser.add_argument("--templates", type=int, default=2000, help="distinct claim bodies")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--targets", default="floor,sqlite,postgres")
    parser.add_argument(
        "--spy",
        default="",
        help="folder: record the API workers with py-spy during each run and print "
        "where a request's time goes",
    )
    args = parser.parse_args(argv)

    if shutil.which("wrk") is None:
        print("bench/http.py: wrk is not installed (apt-get install -y wrk); skipped")
        return 0
    targets = args.targets.split(",")
    print_conditions(
        "http: POST /v1/claims under gunicorn",
        conditions(
            load=f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s "
            f"(+{args.warmup}s warm-up), unique external_ref per request",
            server=f"gunicorn, {args.workers} sync workers, for every target",
            claims=f"{args.templates:,} generated claim bodies over {args.policies} policies",
            wrk=subprocess.run(
                ["wrk", "-v"], capture_output=True, text=True, check=False
            ).stdout.splitlines()[0:1],
        ),
    )
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-http-") as tmp:
        workdir = Path(tmp)
        policies_file, claims_file = prepare_data(workdir, args)
        lua = workdir / "post_claims.lua"
        lua.write_text(LUA)
        if "floor" in targets:
            rows.append(bench_floor(args, workdir, claims_file, lua))
        if "sqlite" in targets:
            rows.append(
                bench_api(
                    "API + SQLite",
                    f"sqlite:///{workdir / 'claims.db'}",
                    args,
                    workdir,
                    policies_file,
                    claims_file,
                    lua,
                )
            )
        if "postgres" in targets:
            rows.append(bench_postgres(args, workdir, policies_file, claims_file, lua))
        _cleanup_redis()
    floor = next((r for r in rows if r["label"].startswith("minimal")), None)
    print_table(
        [
            "target",
            "auth",
            "2xx/s",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "2xx",
            "4xx",
            "5xx",
            "sock err",
            "vs floor",
            "rows ok",
        ],
        [
            [
                r["label"],
                r["auth"],
                r["ok_rps"],
                r["p50_us"] / 1000,
                r["p90_us"] / 1000,
                r["p99_us"] / 1000,
                r["max_us"] / 1000,
                _count(r, "2"),
                _count(r, "4"),
                _count(r, "5"),
                r["socket_errors"] + r["timeouts"],
                f"{r['ok_rps'] / floor['ok_rps']:.2f}×" if floor and floor["ok_rps"] else "-",
                "yes" if r["rows_ok"] else "NO",
            ]
            for r in rows
        ],
        f"POST /v1/claims, {args.connections} connections, {args.duration} s",
    )
    goals = []
    for r in rows:
        if r is floor:
            continue
        share = r["ok_rps"] / floor["ok_rps"] if floor and floor["ok_rps"] else 0.0
        p99 = r["p99_us"] / 1000
        for ratio, p99_goal in GOALS:
            if floor:
                goals.append(
                    (f"{r['label']}: ≥ {ratio}× floor (2xx/s)", f"{share:.2f}×", share >= ratio)
                )
            goals.append((f"{r['label']}: p99 ≤ {p99_goal:g} ms", f"{p99:.1f} ms", p99 <= p99_goal))
        goals.append((f"{r['label']}: zero 5xx", str(_count(r, "5")), _count(r, "5") == 0))
        goals.append(
            (
                f"{r['label']}: every answer 2xx",
                f"{_count(r, '2')}/{r['requests']}",
                _count(r, "2") == r["requests"],
            )
        )
    print_table(
        ["goal", "measured", "met"], [[g, m, "yes" if ok else "NO"] for g, m, ok in goals], "goals"
    )
    for profile in sorted(Path(args.spy).glob("*.txt")) if args.spy else []:
        rows = spy_table(profile)
        if rows:
            print_table(
                [
                    "part of POST /v1/claims",
                    "share of request time",
                    "of which waiting (DB, Redis)",
                ],
                rows,
                f"py-spy, API workers under load: {profile.stem} ({profile})",
            )
    return 0


def _count(result: dict, first_digit: str) -> int:
    return sum(n for code, n in result["statuses"].items() if code.startswith(first_digit))


def bench_postgres(
    args: argparse.Namespace, workdir: Path, policies_file: Path, claims_file: Path, lua: Path
) -> dict:
    with scratch_postgres() as url:
        if url is None:
            return {
                "label": "API + PostgreSQL (skipped)",
                "auth": "-",
                "rps": 0.0,
                "ok_rps": 0.0,
                "requests": 0,
                "p50_us": 0,
                "p90_us": 0,
                "p99_us": 0,
                "max_us": 0,
                "statuses": {},
                "socket_errors": 0,
                "timeouts": 0,
                "rows_ok": True,
            }
        return bench_api("API + PostgreSQL", url, args, workdir, policies_file, claims_file, lua)


def _cleanup_redis() -> None:
    """Remove the RQ jobs the benchmark enqueued (its own Redis database only)."""
    try:
        from redis import Redis

        client = Redis.from_url(REDIS_URL, socket_connect_timeout=1)
        keys = list(client.scan_iter("rq:*", count=1000))
        for start in range(0, len(keys), 1000):
            client.delete(*keys[start : start + 1000])
    except Exception as exc:  # noqa: BLE001 - cleanup is best effort
        print(f"(could not clean Redis {REDIS_URL}: {exc})")


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
