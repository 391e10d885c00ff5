"""The claim lifecycle: one table of moves, walked whole; an illegal move raises; and no
module outside the domain writes a status string into a claim."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from service.domain.lifecycle import (
    FINAL,
    TRANSITIONS,
    ClaimEvent,
    ClaimStatus,
    IllegalTransition,
    decision_event,
    transition,
)

S, E = ClaimStatus, ClaimEvent
EXPECTED = {
    (S.RECEIVED, E.RULES_APPROVE): S.APPROVED,
    (S.RECEIVED, E.RULES_REJECT): S.REJECTED,
    (S.RECEIVED, E.RULES_ESCALATE): S.ESCALATED,
    (S.RECEIVED, E.RULES_REQUEST_INFO): S.PENDING_INFO,
    (S.PENDING_INFO, E.RULES_APPROVE): S.APPROVED,
    (S.PENDING_INFO, E.RULES_REJECT): S.REJECTED,
    (S.PENDING_INFO, E.RULES_ESCALATE): S.ESCALATED,
    (S.PENDING_INFO, E.RULES_REQUEST_INFO): S.PENDING_INFO,
    (S.PENDING_INFO, E.NO_REPLY_ESCALATE): S.ESCALATED,
    (S.PENDING_INFO, E.NO_REPLY_CLOSE): S.CLOSED,
    (S.ESCALATED, E.SUPERVISOR_APPROVE): S.APPROVED,
    (S.ESCALATED, E.SUPERVISOR_REJECT): S.REJECTED,
    (S.ESCALATED, E.SUPERVISOR_REQUEST_INFO): S.PENDING_INFO,
    (S.APPROVED, E.APPEAL): S.APPEALED,
    (S.REJECTED, E.APPEAL): S.APPEALED,
    (S.APPEALED, E.UPHOLD): S.UPHELD,
    (S.APPEALED, E.OVERTURN): S.OVERTURNED,
}


@pytest.mark.parametrize("status", list(ClaimStatus))
@pytest.mark.parametrize("event", list(ClaimEvent))
def test_every_status_and_event(status: ClaimStatus, event: ClaimEvent) -> None:
    """The whole table: each pair moves where EXPECTED says, or raises with the status."""
    if (status, event) in EXPECTED:
        assert transition(status, event) == EXPECTED[(status, event)]
    else:
        with pytest.raises(IllegalTransition) as caught:
            transition(status, event)
        assert caught.value.current == status
        assert set(caught.value.allowed) == {e for (s, e) in EXPECTED if s == status}


def test_the_table_is_exactly_the_expected_one() -> None:
    table = {(s, e): t for s, moves in TRANSITIONS.items() for e, t in moves.items()}
    assert table == EXPECTED
    assert set(TRANSITIONS) == set(ClaimStatus)
    assert set(FINAL) == {S.UPHELD, S.OVERTURNED, S.CLOSED}


def test_every_status_is_reachable_from_received() -> None:
    seen, todo = {S.RECEIVED}, [S.RECEIVED]
    while todo:
        for target in TRANSITIONS[todo.pop()].values():
            if target not in seen:
                seen.add(target)
                todo.append(target)
    assert seen == set(ClaimStatus)


def test_unknown_status_and_decision_events() -> None:
    with pytest.raises(IllegalTransition):
        transition("lost", E.APPEAL)
    assert decision_event("rules", "pending_info") == E.RULES_REQUEST_INFO
    assert decision_event("supervisor", "approved") == E.SUPERVISOR_APPROVE
    with pytest.raises(ValueError):
        decision_event("supervisor", "escalated")  # a supervisor does not escalate


# --- nobody but the domain writes a claim's status ----------------------------------

ROOT = Path(__file__).resolve().parents[2]
STATUS_WORDS = {s.value for s in ClaimStatus}


def _sources() -> list[Path]:
    files = [*(ROOT / "service").rglob("*.py"), *(ROOT / "worker").rglob("*.py")]
    return [
        f
        for f in files
        if "domain" not in f.relative_to(ROOT).parts and "migrations" not in f.parts
    ]


def _claimish(node: ast.expr) -> bool:
    text = ast.unparse(node).lower()
    return "claim" in text


def _offences(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            for target in targets:
                status_attr = isinstance(target, ast.Attribute) and target.attr == "status"
                status_key = (
                    isinstance(target, ast.Subscript)
                    and isinstance(target.slice, ast.Constant)
                    and target.slice.value == "status"
                )
                if not (status_attr or status_key) or not _claimish(target.value):  # type: ignore[union-attr]
                    continue
                literal = isinstance(value, ast.Constant) and value.value in STATUS_WORDS
                through_table = (
                    isinstance(value, ast.Call) and ast.unparse(value.func) == "transition"
                )
                if literal or not through_table:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if (
                    isinstance(key, ast.Constant)
                    and key.value == "status"
                    and isinstance(value, ast.Constant)
                    and value.value in STATUS_WORDS
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
        if isinstance(node, ast.Call) and ast.unparse(node.func).endswith(("values", "update")):
            for keyword in node.keywords:
                if (
                    keyword.arg == "status"
                    and isinstance(keyword.value, ast.Constant)
                    and keyword.value.value in STATUS_WORDS
                ):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {ast.unparse(node)}")
    return found


def test_no_module_outside_the_domain_writes_a_claim_status() -> None:
    """A claim's status is written only with a value from `transition` (or the domain's
    constants), never a string: scan every module of service/ and worker/."""
    offences = [o for path in _sources() for o in _offences(path)]
    assert offences == []


def test_the_scan_finds_a_written_status(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text(
        'claim.status = "closed"\nclaim.status = other\nrow = {"status": "approved"}\n'
        "claim.status = transition(claim.status, E.APPEAL)\n"
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        assert len(_offences(bad)) == 3
    finally:
        ROOT = saved
