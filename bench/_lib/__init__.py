"""Shared helpers for the bench/ scripts (not itself a benchmark: `make bench` skips folders).

Every script prints its conditions (machine, versions, sizes) and small tables
whose ratio columns compare figures measured in the same run, because these
machines are shared and noisy.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import random
import shutil
import statistics
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RULES_DIR = ROOT / "rules"
TODAY = date(2026, 6, 15)  # fixed, so every run decides the same claims


# --- conditions and tables -----------------------------------------------------------


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def version_of(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def conditions(**extra: Any) -> dict[str, Any]:
    info: dict[str, Any] = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{os.cpu_count()} cores (nproc {len(os.sched_getaffinity(0))}), {cpu_model()}",
        "load average": " ".join(f"{x:.2f}" for x in os.getloadavg()),
        "python": platform.python_version(),
        "durable_rules": version_of("durable_rules"),
        "zen-engine": version_of("zen-engine"),
    }
    info.update(extra)
    return info


def print_conditions(title: str, info: Mapping[str, Any]) -> None:
    print(f"\n## {title}\n")
    width = max(len(k) for k in info)
    for key, value in info.items():
        print(f"  {key:<{width}}  {value}")
    print()


def print_table(headers: Sequence[str], rows: Iterable[Sequence[Any]], title: str = "") -> None:
    text_rows = [[_cell(v) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in text_rows)) if text_rows else len(h)
        for i, h in enumerate(headers)
    ]
    if title:
        print(f"### {title}\n")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in text_rows:
        print("| " + " | ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) + " |")
    print()


def _cell(value: Any) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}×" if b else "n/a"


CLOCK = time.process_time  # CPU time of this process: robust when the machine is shared


def use_wall_clock() -> None:
    global CLOCK
    CLOCK = time.perf_counter


def median_rate(run: Callable[[], int], repeats: int) -> tuple[float, list[float]]:
    """Run `run` (returns items done) `repeats` times; median seconds per item.

    Timed with CPU time of this process by default (other sessions share these
    cores, and wall-clock time then measures the neighbours); --wall switches.
    """
    per_item = []
    for _ in range(repeats):
        started = CLOCK()
        items = run()
        per_item.append((CLOCK() - started) / max(items, 1))
    return statistics.median(per_item), per_item


# --- API keys (authentication may be required by the API) -----------------------------


def make_api_key(env: Mapping[str, str], role: str = "intake", name: str = "bench") -> str:
    """A Bearer key: `claims apikeys create` when the CLI has it, else the use case, else ''."""
    import subprocess

    claims = Path(sys.executable).parent / "claims"
    help_text = subprocess.run(
        [str(claims), "--help"], env=dict(env), capture_output=True, text=True, check=False
    ).stdout
    if "apikeys" in help_text:
        out = subprocess.run(
            [str(claims), "apikeys", "create", "--role", role, "--name", name],
            env=dict(env),
            capture_output=True,
            text=True,
            check=False,
        )
        if out.returncode == 0 and out.stdout.strip():
            return out.stdout.strip().splitlines()[-1].strip()
    try:
        from service.usecases import manage_api_keys
    except ImportError:
        return ""
    from service.config import load
    from service.usecases.context import build_context

    ctx = build_context(load(dict(env)))
    return str(manage_api_keys.create_api_key(ctx, name, role, actor="bench").key)


# --- data ------------------------------------------------------------------------------


def default_engine() -> Any:
    from service.rules.engine import RulesEngine, load_ruleset

    return RulesEngine(load_ruleset(RULES_DIR))


def generated_facts(claims: int, seed: int = 7) -> list[dict[str, Any]]:
    """Facts (build_facts output) of generated claims, decided in order with history."""
    from devtools.demo.generate import decide_offline, generate

    policies, bodies = generate(max(1, claims // 4), claims, seed, TODAY)
    engine = default_engine()
    facts = [d.facts for d in decide_offline(engine, policies, bodies)]
    engine.close()
    return facts


# --- synthetic rulesets written in the project's own YAML rule model ----------------------

SYNTHETIC_TYPES = (
    "device_damage",
    "device_theft",
    "water_damage",
    "fire_damage",
    "medical_reimbursement",
)


def synthetic_rules(count: int, seed: int = 11) -> list[tuple[str, str, int]]:
    """(rule id, claim type, amount threshold): `claim_type == T and amount > t`."""
    rng = random.Random(seed)
    return [
        (f"SYN_{i:04d}", SYNTHETIC_TYPES[i % len(SYNTHETIC_TYPES)], rng.randint(0, 20000))
        for i in range(count)
    ]


def write_synthetic_ruleset(folder: Path, rules: list[tuple[str, str, int]]) -> Path:
    """A rules folder: the shipped settings.yaml plus one file of synthetic rules."""
    folder.mkdir(parents=True, exist_ok=True)
    shutil.copy(RULES_DIR / "settings.yaml", folder / "settings.yaml")
    lines = ["# generated by bench/: claim_type == T and claim.amount > t", "rules:"]
    for rule_id, claim_type, threshold in rules:
        lines += [
            f"  - id: {rule_id}",
            f"    description: Synthetic rule {rule_id}",
            "    owner: bench",
            "    when:",
            f"      claim.claim_type: {claim_type}",
            f"      claim.amount: {{gt: {threshold}}}",
            "    then:",
            "      action: escalate",
            f"      code: {rule_id}",
            f"      message: Synthetic rule {rule_id} matched.",
        ]
    (folder / "synthetic.yaml").write_text("\n".join(lines) + "\n")
    return folder


# --- references: plain-Python predicates and zen-engine decision tables ---------------------


def python_predicates(rules: Sequence[Any]) -> Callable[[Mapping[str, Any]], list[str]]:
    """The rule model compiled to Python closures over the flattened facts (the floor)."""
    from service.domain.calendar import Duration
    from service.domain.facts import flatten

    names = {"Decimal": Decimal, "Duration": Duration}  # what repr() of rule values names
    compiled = [
        (rule.id, eval(f"lambda f: {_py(rule)}", names))  # noqa: S307
        for rule in rules
    ]

    def evaluate(facts: Mapping[str, Any]) -> list[str]:
        flat = flatten(facts)
        return [rule_id for rule_id, predicate in compiled if predicate(flat)]

    return evaluate


def _py(rule: Any) -> str:
    parts = [_py_cond(rule.when)]
    if rule.valid_from is not None:
        parts.append(
            f"(f.get('claim.date_of_loss') is not None and "
            f"f['claim.date_of_loss'] >= {rule.valid_from!r})"
        )
    if rule.valid_to is not None:
        parts.append(
            f"(f.get('claim.date_of_loss') is not None and "
            f"f['claim.date_of_loss'] <= {rule.valid_to!r})"
        )
    return " and ".join(parts).replace("datetime.date", "__import__('datetime').date")


_PY_OPS = {"eq": "==", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def _py_cond(cond: Any) -> str:
    from service.rules.loader import Group

    if isinstance(cond, Group):
        inner = [_py_cond(c) for c in cond.items]
        if cond.kind == "not":
            return f"(not {inner[0]})"
        return "(" + (" and " if cond.kind == "all" else " or ").join(inner) + ")"
    get = f"f.get({cond.fact!r})"
    if cond.op == "present":
        return f"({get} is {'not ' if cond.value else ''}None)"
    other = f"f.get({cond.ref!r})" if cond.ref is not None else repr(_py_value(cond.value))
    if cond.op in ("in", "not_in"):
        negate = "not " if cond.op == "not_in" else ""
        return f"((v := {get}) is not None and v {negate}in {other})"
    return f"((v := {get}) is not None and (o := {other}) is not None and v {_PY_OPS[cond.op]} o)"


def _py_value(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_py_value(v) for v in value)
    if isinstance(value, float):
        return Decimal(str(value))
    return value


def zen_input(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Facts as JSON-able values for zen (money as numbers, dates as YYYYMMDD)."""
    from service.domain.facts import date_number

    def convert(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {k: convert(v) for k, v in value.items()}
        if isinstance(value, Decimal):
            return float(value)
        if isinstance(value, date):
            return date_number(value)
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        return value

    return convert(facts)


def _graph(inputs: list[dict], rows: list[dict]) -> str:
    content = {
        "nodes": [
            {"id": "in", "type": "inputNode", "name": "Request", "position": {"x": 0, "y": 0}},
            {
                "id": "table",
                "type": "decisionTableNode",
                "name": "rules",
                "position": {"x": 200, "y": 0},
                "content": {
                    "hitPolicy": "collect",
                    "inputs": inputs,
                    "outputs": [{"id": "out_rule", "name": "Rule", "field": "rule"}],
                    "rules": rows,
                },
            },
            {"id": "out", "type": "outputNode", "name": "Response", "position": {"x": 400, "y": 0}},
        ],
        "edges": [
            {"id": "e1", "sourceId": "in", "targetId": "table", "type": "edge"},
            {"id": "e2", "sourceId": "table", "targetId": "out", "type": "edge"},
        ],
    }
    return json.dumps(content)


def zen_synthetic(
    rules: list[tuple[str, str, int]], properties: frozenset[str] | None = None
) -> Callable[[Mapping[str, Any]], list[str]]:
    """The synthetic rules as an idiomatic decision table: typed columns, collect policy."""
    import zen

    inputs = [
        {"id": "in_type", "name": "Claim type", "field": "claim.claim_type"},
        {"id": "in_amount", "name": "Amount", "field": "claim.amount"},
    ]
    rows = [
        {
            "_id": rule_id,
            "in_type": json.dumps(claim_type),
            "in_amount": f"> {threshold}",
            "out_rule": json.dumps(rule_id),
        }
        for rule_id, claim_type, threshold in rules
    ]
    return _zen_evaluator(zen.ZenEngine().create_decision(_graph(inputs, rows)), properties)


def zen_ruleset(
    rules: Sequence[Any], properties: frozenset[str] | None = None
) -> Callable[[Mapping[str, Any]], list[str]]:
    """Any rule model as a decision table with one expression column (collect policy)."""
    import zen

    inputs = [{"id": "in_expr", "name": "Condition"}]
    rows = [
        {"_id": rule.id, "in_expr": _zen(rule), "out_rule": json.dumps(rule.id)} for rule in rules
    ]
    return _zen_evaluator(zen.ZenEngine().create_decision(_graph(inputs, rows)), properties)


def _zen_evaluator(
    decision: Any, properties: frozenset[str] | None
) -> Callable[[Mapping[str, Any]], list[str]]:
    """Like the durable path, zen is given only the facts its rules read."""
    from service.rules.compiler import engine_fact

    def evaluate(facts: Mapping[str, Any]) -> list[str]:
        if properties is None:
            given = zen_input(facts)
        else:
            given = {}
            for name, value in engine_fact(facts, properties).items():
                target = given
                *parents, leaf = name.split(".")
                for part in parents:
                    target = target.setdefault(part, {})
                target[leaf] = value
        return [row["rule"] for row in decision.evaluate(given)["result"]]

    return evaluate


_ZEN_OPS = {"eq": "==", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def _zen(rule: Any) -> str:
    from service.domain.facts import date_number

    parts = [_zen_cond(rule.when)]
    if rule.valid_from is not None:
        parts.append(
            f"(claim.date_of_loss != null and claim.date_of_loss >= {date_number(rule.valid_from)})"
        )
    if rule.valid_to is not None:
        parts.append(
            f"(claim.date_of_loss != null and claim.date_of_loss <= {date_number(rule.valid_to)})"
        )
    return " and ".join(parts)


def _zen_value(value: Any) -> str:
    from service.domain.facts import date_number

    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, date):
        return str(date_number(value))
    if isinstance(value, Decimal | int | float):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_zen_value(v) for v in value) + "]"
    return json.dumps(str(value))


def _zen_cond(cond: Any) -> str:
    from service.rules.loader import Group

    if isinstance(cond, Group):
        inner = [_zen_cond(c) for c in cond.items]
        if cond.kind == "not":
            return f"(not ({inner[0]}))"
        return "(" + (" and " if cond.kind == "all" else " or ").join(inner) + ")"
    if cond.op == "present":
        return f"({cond.fact} {'!=' if cond.value else '=='} null)"
    other = cond.ref if cond.ref is not None else _zen_value(cond.value)
    guard = f"{cond.fact} != null" + (f" and {cond.ref} != null" if cond.ref else "")
    if cond.op in ("in", "not_in"):
        test = f"{cond.fact} in {other}"
        return f"({guard} and {'not (' + test + ')' if cond.op == 'not_in' else test})"
    return f"({guard} and {cond.fact} {_ZEN_OPS[cond.op]} {other})"


PG_ADMIN = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")


@contextlib.contextmanager
def scratch_postgres() -> Iterator[str | None]:
    """A new database on the local PostgreSQL (BENCH_PG_URL), dropped afterwards; yields
    its SQLAlchemy URL, or None (with a note) when the server cannot be reached."""
    import uuid

    import psycopg

    name = f"claims_bench_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as exc:
        print(f"PostgreSQL not reachable at {PG_ADMIN}: {exc}; skipped")
        yield None
        return
    base = PG_ADMIN.rsplit("/", 1)[0].split("://", 1)[1]
    try:
        yield f"postgresql+psycopg://{base}/{name}"
    finally:
        from service.db.session import dispose_all

        dispose_all()
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --- servers started by the benchmarks ---------------------------------------------------


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_ready(port: int, proc: Any, timeout: float = 60) -> None:
    """Until GET /healthz answers (the server process must stay alive meanwhile)."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not answer /healthz")


def stop(proc: Any) -> None:
    """SIGTERM the process group, SIGKILL after 20 s."""
    import signal
    import subprocess

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
