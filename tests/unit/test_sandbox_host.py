"""Candidate checks on one host (hardening, finding 4): one at a time (a file lock in the
verdict folder), refusals kept by content, the child niced below the serving processes."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from service.rules import sandbox
from service.rules.limits import Limits
from tests.conftest import ROOT

BROKEN = {"r.yaml": "rules:\n  - id: X\n"}


def shipped() -> dict[str, str]:
    return {p.name: p.read_text() for p in (ROOT / "rules").glob("*.yaml")}


def test_a_check_waits_for_the_hosts_turn_and_gives_up_after_the_budget(tmp_path: Path) -> None:
    sandbox._KEPT.clear()
    with open(tmp_path / ".lock", "a+b") as held:  # another process is checking
        fcntl.flock(held, fcntl.LOCK_EX)
        (problem,) = sandbox.verify(shipped(), Limits(compile_seconds=1), "rules", tmp_path)
    assert problem.message.startswith("another ruleset check is running on this host")
    assert list(tmp_path.glob("*.json")) == []  # nothing kept: nothing was checked
    assert sandbox.verify(shipped(), Limits(compile_seconds=5), "rules", tmp_path) == []


def test_a_refusal_is_kept_by_content_on_the_host(tmp_path: Path, monkeypatch) -> None:
    sandbox._KEPT.clear()
    first = sandbox.verify(BROKEN, Limits(), "one", tmp_path)
    assert first and all(p.severity == "error" for p in first)
    sandbox._KEPT.clear()  # another process of the host

    def no_child(*_args: object) -> object:
        raise AssertionError("checked again")

    monkeypatch.setattr(sandbox, "_run_child", no_child)
    assert sandbox.verify(BROKEN, Limits(), "one", tmp_path) == first


def test_the_child_runs_niced(monkeypatch) -> None:
    seen: list[int] = []
    monkeypatch.setattr(os, "nice", lambda n: seen.append(n) or n)
    monkeypatch.setattr("sys.stdin", type("In", (), {"buffer": None})())
    try:
        sandbox._child()
    except AttributeError:
        pass  # stopped right after the nice: reading the request needs a real stdin
    assert seen == [sandbox.NICE] and sandbox.NICE >= 10
