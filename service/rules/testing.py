"""Analysts' test cases (rules/tests/*.yaml): claim + policy + earlier claims -> expected decision.

Facts come from the same pure functions the service uses (build_facts,
summarise_history), then `adjudicate` runs them through the real engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from service.domain.calendar import Duration
from service.domain.facts import build_facts
from service.domain.history import summarise_history
from service.domain.model import (
    Claim,
    Coverage,
    Document,
    LineItem,
    Policy,
    PriorClaim,
    line_items_key,
)
from service.domain.money import ZERO, fmt, money
from service.rules.engine import RulesEngine, Ruleset, adjudicate
from service.rules.loader import LDict, Problem, shown
from service.rules.reader import parse_yaml

CASE_KEYS = ("name", "claim", "policy", "earlier_claims", "expect")
EXPECT_KEYS = (
    "outcome",
    "reasons",
    "payable_amount",
    "missing_documents",
    "adjustments",
    "lines",  # per line item: {paid, allowed, deductible, outcome, carc} (those given)
)


@dataclass(frozen=True)
class Case:
    file: str
    line: int
    name: str
    claim: Claim
    policy: Policy | None
    earlier: tuple[PriorClaim, ...]
    expect: dict[str, Any]


@dataclass
class CaseResult:
    case: Case
    failures: list[str]
    fired: tuple[str, ...]

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass
class Report:
    results: list[CaseResult] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)  # unreadable case files
    uncovered: list[str] = field(default_factory=list)  # rule ids no case fires

    @property
    def ok(self) -> bool:
        return not self.problems and all(r.passed for r in self.results)


def load_cases(tests_dir: Path) -> tuple[list[Case], list[Problem]]:
    cases: list[Case] = []
    problems: list[Problem] = []
    for path in sorted(Path(tests_dir).glob("*.y*ml")):
        rel = f"tests/{path.name}"
        doc = parse_yaml(path.read_text(encoding="utf-8"), rel, problems)
        if not isinstance(doc, LDict) or not isinstance(doc.get("cases"), list):
            problems.append(Problem(rel, 1, 1, "a test file needs `cases:` (and optional `base:`)"))
            continue
        base = doc.get("base") or {}
        for item in doc["cases"]:
            line = item.pos.line if isinstance(item, LDict) else 1
            try:
                cases.append(_case(rel, line, base, item))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                problems.append(Problem(rel, line, 1, f"bad test case: {_plain(exc)}"))
    return cases, problems


def _plain(exc: Exception) -> str:
    """An error in a test case as words, not a Python repr."""
    if isinstance(exc, KeyError) and exc.args:
        return f"missing {shown(exc.args[0])}"
    return str(exc) or type(exc).__name__


def _merge(base: Any, over: Any) -> Any:
    if isinstance(base, dict) and isinstance(over, dict):
        return {**base, **over}
    return over if over is not None else base


def _case(rel: str, line: int, base: dict[str, Any], item: dict[str, Any]) -> Case:
    unknown = set(item) - set(CASE_KEYS)
    if unknown:
        raise ValueError(f"unknown keys {sorted(unknown)}; allowed {list(CASE_KEYS)}")
    c = _merge(base.get("claim"), item.get("claim"))
    p = base.get("policy") if "policy" not in item else _merge(base.get("policy"), item["policy"])
    if item.get("policy", "") is None:
        p = None
    expect = dict(item["expect"])
    if set(expect) - set(EXPECT_KEYS):
        raise ValueError(f"unknown expect keys; allowed {list(EXPECT_KEYS)}")
    loss = _day(c["date_of_loss"])
    reported = _day(c.get("reported_on", loss + timedelta(days=1)))
    currency = c.get("currency", "USD")
    items = tuple(
        LineItem(str(i["code"]), money(i["amount"], currency), str(i.get("description", "")))
        for i in c.get("line_items") or []
    )
    claim = Claim(
        policy_number=str(c.get("policy_number", "P-1")),
        claim_type=c["claim_type"],
        date_of_loss=loss,
        reported_at=datetime.combine(reported, time(12), tzinfo=UTC),
        reported_on=reported,
        amount=money(c["amount"], currency),
        currency=currency,
        documents=tuple(_document(d, line, i) for i, d in enumerate(c.get("documents", []))),
        line_items_count=len(items) or int(c.get("line_items_count", 0)),
        line_items_key=line_items_key(items),
        line_items=items,
        id="case",
    )
    earlier = tuple(
        PriorClaim(
            id=str(e.get("id", f"prior-{i}")),
            claim_type=e.get("claim_type", claim.claim_type),
            date_of_loss=_day(e["date_of_loss"]),
            amount=money(e["amount"], currency),
            outcome=e.get("outcome", "approved"),
            payable_amount=money(e["payable_amount"], currency) if "payable_amount" in e else None,
            document_refs=frozenset(str(r) for r in e.get("document_refs", [])),
            deductible_applied=money(e.get("deductible_applied", 0), currency),
            patient_responsibility=money(
                e.get("patient_responsibility", e.get("deductible_applied", 0)), currency
            ),
        )
        for i, e in enumerate(item.get("earlier_claims") or [])
    )
    return Case(rel, line, str(item["name"]), claim, _policy(p), earlier, expect)


def _document(item: Any, line: int, index: int) -> Document:
    """`photos` (a reference unique to the case) or {type: photos, ref: IMG-1}."""
    if isinstance(item, dict):
        return Document(str(item["type"]), str(item["ref"]))
    return Document(str(item), f"case-{line}-{index}")


def _policy(p: dict[str, Any] | None) -> Policy | None:
    if p is None:
        return None
    currency = p.get("currency", "USD")
    terminated = p.get("terminated_on")
    return Policy(
        number=str(p.get("number", "P-1")),
        holder=str(p.get("holder", "A. Holder")),
        status=p.get("status", "active"),
        effective_from=_day(p["effective_from"]),
        effective_to=_day(p["effective_to"]),
        terminated_on=_day(terminated) if terminated is not None else None,
        time_zone=p.get("time_zone"),
        currency=currency,
        coverages=tuple(
            Coverage(
                claim_type=cov["claim_type"],
                limit_per_claim=money(cov["limit_per_claim"], currency),
                annual_aggregate=money(cov["annual_aggregate"], currency),
                deductible=money(cov.get("deductible", 0), currency),
                waiting_period=Duration.parse(dict(cov.get("waiting_period") or {"days": 0})),
                deductible_period=str(cov.get("deductible_period", "claim")),
                out_of_pocket_maximum=(
                    money(cov["out_of_pocket_maximum"], currency)
                    if cov.get("out_of_pocket_maximum") is not None
                    else None
                ),
                out_of_pocket_period=str(cov.get("out_of_pocket_period", "claim")),
            )
            for cov in p.get("coverages", [])
        ),
    )


def _day(value: Any) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def facts_for(case: Case, ruleset: Ruleset) -> dict[str, Any]:
    history = summarise_history(case.claim, case.policy, case.earlier)
    return build_facts(case.claim, case.policy, history, ruleset.required_documents)


def run_case(engine: RulesEngine, case: Case) -> CaseResult:
    decision = adjudicate(engine, facts_for(case, engine.ruleset))
    failures = []
    expect = case.expect
    if "outcome" in expect and decision.outcome != expect["outcome"]:
        failures.append(f"outcome: expected {expect['outcome']}, got {decision.outcome}")
    if "reasons" in expect:
        got = sorted(r.code for r in decision.reasons)
        if got != sorted(expect["reasons"]):
            failures.append(f"reasons: expected {sorted(expect['reasons'])}, got {got}")
    currency = case.claim.currency
    if "payable_amount" in expect:
        want = expect["payable_amount"]
        want_text = None if want is None else fmt(money(want, currency), currency)
        got_text = fmt(decision.payable_amount, currency)
        if got_text != want_text:
            failures.append(f"payable_amount: expected {want_text}, got {got_text}")
    lines = [a.as_dict(currency) for a in decision.adjustments]
    if "adjustments" in expect:
        want_lines = [
            {
                "group": str(w["group"]),
                "carc": str(w["carc"]),
                "amount": fmt(money(w["amount"], currency), currency),
            }
            for w in expect["adjustments"]
        ]
        got_lines = [{k: line[k] for k in ("group", "carc", "amount")} for line in lines]
        if got_lines != want_lines:
            failures.append(f"adjustments: expected {want_lines}, got {got_lines}")
    if decision.payable_amount is not None:
        cut = sum((a.amount for a in decision.adjustments), ZERO)
        if case.claim.amount - cut != decision.payable_amount:
            failures.append(
                f"adjustments do not balance: {fmt(case.claim.amount, currency)} - "
                f"{fmt(cut, currency)} != {fmt(decision.payable_amount, currency)}"
            )
    if "lines" in expect:
        failures += _line_failures(expect["lines"], decision.lines, currency)
    if "missing_documents" in expect and list(decision.missing_documents) != list(
        expect["missing_documents"]
    ):
        failures.append(
            f"missing_documents: expected {expect['missing_documents']}, "
            f"got {list(decision.missing_documents)}"
        )
    return CaseResult(case, failures, tuple(str(t["rule"]) for t in decision.trace))


def _line_failures(want: Any, got: Any, currency: str) -> list[str]:
    if not isinstance(want, list) or len(want) != len(got):
        return [f"lines: expected {len(want) if isinstance(want, list) else want}, got {len(got)}"]
    failures = []
    for number, (wanted, line) in enumerate(zip(want, got, strict=True), start=1):
        shown = line.to_json(currency)
        for key, value in dict(wanted).items():
            if key == "carc":
                have: Any = [a["carc"] for a in shown["adjustments"]]
                ok = str(value) in have
            elif key == "outcome":
                have = shown["outcome"]
                ok = have == value
            elif key in ("paid", "allowed", "deductible", "submitted"):
                have = shown[key]
                ok = have == fmt(money(value, currency), currency)
            else:
                failures.append(f"line {number}: unknown key {key!r}")
                continue
            if not ok:
                failures.append(f"line {number} {key}: expected {value}, got {have}")
    return failures


def run_all(ruleset: Ruleset, tests_dir: Path, engine: RulesEngine | None = None) -> Report:
    cases, problems = load_cases(tests_dir)
    engine = engine or RulesEngine(ruleset)
    report = Report(problems=problems)
    for case in cases:
        report.results.append(run_case(engine, case))
    fired = {rule for r in report.results for rule in r.fired}
    report.uncovered = [r.id for r in ruleset.rules if r.id not in fired]
    return report
