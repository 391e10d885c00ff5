"""Check and compile a candidate ruleset in a child process with a time and memory budget.

A candidate nobody has checked yet (a reload, a watched edit, a backtest's files) is
checked, compiled and built in the rules engine by `python -m service.rules.sandbox`,
which first limits its own address space (RLIMIT_AS) and CPU time (RLIMIT_CPU, the
`Limits.compile_seconds` budget); the parent kills it after `wall_seconds` (twice the
budget, at most 28 s: the child runs niced and may get only part of a busy core).
Whatever the files hold, the process that asked only waits that long and never holds
the memory: a refusal comes back as Problems, the same `file:line:column: message`
lines as any other.

Verdicts are kept by content and limits (this process, and a folder on the host when
one is given), so each version is verified once, not once per worker, and a refused
version stays refused: a worker that replaces a crashed one, or the watch, never loads
a folder another process refused. Refusals for time, memory or a crash are kept as
*transient*: only an explicit retry (`retry=True`, POST /v1/rulesets/reload) checks such
a version again, since it may pass on a quieter machine.

At most one candidate is checked at a time on the host (a file lock in the verdict
folder; other processes wait for it, then usually find its verdict), and the child
runs at a lower CPU priority (nice 10) than the processes answering requests.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import math
import os
import signal
import subprocess
import sys
import time
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from service.rules.limits import Limits
from service.rules.loader import Problem

log = logging.getLogger(__name__)
# verdicts of this process, by key: (problems, transient)
_KEPT: OrderedDict[str, tuple[list[Problem], bool]] = OrderedDict()
_KEEP = 64
_OUT_BYTES = 1_000_000  # the child's answer is cut there (problems are one line each)
NICE = 10  # the child's CPU priority below the processes answering requests


def verify(
    files: Mapping[str, str],
    limits: Limits,
    label: str = "ruleset",
    cache_dir: Path | None = None,
    *,
    retry: bool = False,
) -> list[Problem]:
    """The errors of the candidate `files` ({relative name: text}); [] when it compiles.

    `label` names the candidate in refusals about the whole of it (time, memory, crash).
    A kept verdict is answered without a check; `retry` checks a transient refusal again.
    """
    key = _key(files, limits)
    known = _known(key, cache_dir)
    if known is not None and not (retry and known[1]):
        return _labelled(known[0], label)
    # waiting for the turn and the check together stay below gunicorn's 30 s worker timeout
    wait = min(limits.compile_seconds, max(0.5, 28.0 - wall_seconds(limits)))
    with _host_turn(cache_dir, wait) as turn:
        if not turn:
            busy = "another ruleset check is running on this host; try again in a moment"
            return [Problem(label, 1, 1, busy)]  # not kept: nothing was checked
        known = None if retry else _known(key, cache_dir)  # found while waiting our turn
        if known is None:
            problems, deterministic = _run_child(files, limits)
            known = (problems, bool(problems) and not deterministic)
            _keep(key, known)
            if cache_dir is not None:
                _write_verdict(cache_dir / f"{key}.json", *known)
    return _labelled(known[0], label)


def wall_seconds(limits: Limits) -> float:
    """How long the parent waits for the (niced) child: the CPU budget counts, but a busy
    host may give the child only part of a core, so up to twice it, at most 28 s (below
    gunicorn's 30 s worker timeout)."""
    return min(2 * limits.compile_seconds, max(limits.compile_seconds, 28.0))


def _known(key: str, cache_dir: Path | None) -> tuple[list[Problem], bool] | None:
    known = _KEPT.get(key)
    if known is None and cache_dir is not None:
        known = _read_verdict(cache_dir / f"{key}.json")
    if known is not None:
        _keep(key, known)
    return known


def _labelled(problems: list[Problem], label: str) -> list[Problem]:
    """Problems about the whole candidate are kept without a file; name it `label`."""
    return [
        p if p.file else Problem(label, p.line, p.column, p.message, p.severity) for p in problems
    ]


@contextlib.contextmanager
def _host_turn(cache_dir: Path | None, wait_seconds: float) -> Iterator[bool]:
    """One candidate check at a time on the host (the lock file sits in `cache_dir`):
    True once it is this process's turn, False after `wait_seconds` of waiting."""
    if cache_dir is None:
        yield True
        return
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        handle = open(cache_dir / ".lock", "a+b")  # noqa: SIM115 - closed below
    except OSError:
        yield True  # no shared folder: this process alone
        return
    try:
        deadline = time.monotonic() + wait_seconds
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    yield False
                    return
                time.sleep(0.05)
        yield True
    finally:
        handle.close()  # also releases the lock


def _key(files: Mapping[str, str], limits: Limits) -> str:
    digest = hashlib.sha256(json.dumps(limits.to_json(), sort_keys=True).encode())
    for name in sorted(files):
        digest.update(name.encode("utf-8", "surrogatepass") + b"\0")
        digest.update(files[name].encode("utf-8", "surrogatepass") + b"\0")
    return digest.hexdigest()


def _keep(key: str, verdict: tuple[list[Problem], bool]) -> None:
    _KEPT[key] = verdict
    _KEPT.move_to_end(key)
    while len(_KEPT) > _KEEP:
        _KEPT.popitem(last=False)


def _run_child(files: Mapping[str, str], limits: Limits) -> tuple[list[Problem], bool]:
    """(problems, whether another run would say the same); whole-candidate ones have no file."""
    payload = json.dumps({"files": dict(files), "limits": limits.to_json()}, ensure_ascii=True)
    whole = Problem("", 1, 1, "")
    try:
        done = subprocess.run(
            [sys.executable, "-m", "service.rules.sandbox"],
            input=payload.encode(),
            capture_output=True,
            timeout=wall_seconds(limits),
            check=False,
        )
    except subprocess.TimeoutExpired:
        what = "checking and compiling the ruleset took too long (stopped)"
        return [_with(whole, limits.refusal("compile_seconds", what))], False
    except OSError as exc:
        return [_with(whole, f"could not start the ruleset check: {exc.strerror or exc}")], False
    answer = _answer(done.stdout[:_OUT_BYTES])
    if answer is None:
        tail = done.stderr.decode("utf-8", "replace").strip().splitlines()[-1:]
        log.warning("ruleset check ended without an answer: %s", tail[0][:300] if tail else "")
        if done.returncode == -signal.SIGXCPU:
            what = "checking and compiling the ruleset took too long (stopped)"
            return [_with(whole, limits.refusal("compile_seconds", what))], False
        if done.returncode < 0:
            what = f"the ruleset check crashed (signal {-done.returncode})"
        else:
            what = f"the ruleset check failed (exit status {done.returncode})"
        return [_with(whole, what)], False
    if answer.get("memory"):
        what = "checking and compiling the ruleset needed too much memory (stopped)"
        return [_with(whole, limits.refusal("compile_memory_mb", what))], False
    return [Problem(*p) for p in answer["problems"]], True


def _answer(out: bytes) -> dict[str, Any] | None:
    try:
        answer = json.loads(out)
    except ValueError:
        return None
    return answer if isinstance(answer, dict) and "problems" in answer else None


def _with(problem: Problem, message: str) -> Problem:
    return Problem(problem.file, problem.line, problem.column, message)


def _read_verdict(path: Path) -> tuple[list[Problem], bool] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return [Problem(*p) for p in data["problems"]], bool(data["transient"])
    except (OSError, ValueError, TypeError, KeyError):
        return None


def _write_verdict(path: Path, problems: list[Problem], transient: bool) -> None:
    rows = [[p.file, p.line, p.column, p.message, p.severity] for p in problems]
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps({"problems": rows, "transient": transient}), encoding="utf-8")
        os.replace(tmp, path)
    except OSError:
        pass  # a cache: the next process checks again


# --- the child ------------------------------------------------------------------------


def _child() -> int:
    import resource

    os.nice(NICE)
    request = json.loads(sys.stdin.buffer.read())
    limits = Limits(**request["limits"])
    memory = limits.compile_memory_mb * 2**20
    hard = resource.getrlimit(resource.RLIMIT_AS)[1]
    if hard != resource.RLIM_INFINITY:  # a parent already limited (it cannot be raised)
        memory = min(memory, hard)
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    cpu = math.ceil(limits.compile_seconds)  # the budget, in CPU seconds (SIGXCPU)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    try:
        problems = _check(request["files"], limits)
        answer: dict[str, Any] = {"problems": [_row(p) for p in problems]}
    except Exception as exc:  # noqa: BLE001 - the parent words it; C code out of memory
        # does not always raise MemoryError, so a failure near the limit counts as memory
        if not isinstance(exc, MemoryError) and _peak_bytes() < memory - (64 << 20):
            raise
        answer = {"problems": [], "memory": True}
    sys.stdout.write(json.dumps(answer))
    return 0


def _peak_bytes() -> int:
    """The highest address space this process reached (VmPeak), 0 if unknown."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmPeak:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _check(files: dict[str, str], limits: Limits) -> list[Problem]:
    from service.adapters import durable_engine
    from service.rules.engine import RulesetError, build_ruleset

    try:
        ruleset = build_ruleset(files, limits)
    except RulesetError as exc:
        return [p for p in exc.problems if p.severity == "error"]
    except RecursionError:
        return [Problem("", 1, 1, "the ruleset is nested too deep to check")]
    try:
        durable_engine.DurableRulesets(ruleset.compiled.shards).close()
        if ruleset.line_compiled is not None:
            durable_engine.DurableRulesets(ruleset.line_compiled.shards, "lines").close()
    except durable_engine.DurableError as exc:
        return [Problem("", 1, 1, f"the rules engine refused the ruleset: {exc}")]
    return []


def _row(p: Problem) -> list[Any]:
    return [p.file, p.line, p.column, p.message, p.severity]


if __name__ == "__main__":
    sys.exit(_child())
