"""Public facade: load a rules folder, evaluate claims, swap rule versions live."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from service.domain.decision import Decision, Reason, decide
from service.domain.facts import (
    apply_line_decisions,
    breakdown_from_facts,
    fill_line_facts,
    flatten,
)
from service.domain.fee_schedule import FeeSchedule
from service.domain.lines import LineDecision, claim_breakdown
from service.domain.money import fmt
from service.domain.payable import Breakdown
from service.rules.checker import check_files, read_folder
from service.rules.compiler import Compiled, compile_split, engine_fact, evaluate_python
from service.rules.limits import Limits
from service.rules.loader import Problem, Rule

__all__ = [
    "EngineFailure",
    "Problem",
    "Rule",
    "Ruleset",
    "RulesEngine",
    "RulesetError",
    "adjudicate",
    "build_ruleset",
    "line_decisions",
    "evaluate_python",
    "load_ruleset",
]


class RulesetError(Exception):
    """The rule files have problems; str() is one `file:line:column: message` per line."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class EngineFailure(Exception):
    """The rules engine failed; the claim could not be evaluated (retry later)."""


@dataclass(frozen=True)
class Ruleset:
    version: str
    rules: tuple[Rule, ...]
    precedence: tuple[str, ...]
    required_documents: dict[str, tuple[str, ...]]
    files: dict[str, str]
    compiled: Compiled = field(repr=False, compare=False)
    warnings: tuple[Problem, ...] = ()
    # the rules that name line facts, evaluated once per line item (empty: none)
    line_compiled: Compiled | None = field(default=None, repr=False, compare=False)
    fee_schedule: FeeSchedule = field(default_factory=FeeSchedule, repr=False, compare=False)

    def rule(self, rule_id: str) -> Rule:
        return next(r for r in self.rules if r.id == rule_id)


def version_of(files: Mapping[str, str]) -> str:
    digest = hashlib.sha256()
    for rel in sorted(files):
        digest.update(rel.encode() + b"\0" + files[rel].encode() + b"\0")
    return digest.hexdigest()


def load_ruleset(path: Path, limits: Limits | None = None) -> Ruleset:
    """Parse, check and compile every rule file in the folder; RulesetError on any error."""
    limits = limits or Limits()
    files, problems = read_folder(Path(path), limits)
    if problems:
        raise RulesetError(problems)
    return build_ruleset(files, limits)


def build_ruleset(files: Mapping[str, str], limits: Limits | None = None) -> Ruleset:
    """Check and compile rule files given as {relative name: text}; RulesetError if broken.

    Bounded by `limits` (size, depth, conditions, rules), but it runs in this process:
    for a candidate nobody has checked yet, `sandbox.verify` it first.
    """
    result = check_files(files, limits)
    if result.errors:
        raise RulesetError(result.errors)
    compiled, line_compiled, problems = compile_split(result.rules)
    if problems:
        raise RulesetError(problems)
    return Ruleset(
        version=version_of(result.files),
        rules=tuple(result.rules),
        precedence=result.precedence,
        required_documents=dict(result.required_documents),
        files=dict(result.files),
        compiled=compiled,
        warnings=tuple(p for p in result.problems if p.severity != "error"),
        line_compiled=line_compiled,
        fee_schedule=result.fee_schedule,
    )


class RulesEngine:
    """Evaluates facts against the active ruleset; one engine per process is enough."""

    def __init__(self, ruleset: Ruleset) -> None:
        self._ruleset = ruleset
        self._durable: Any = None  # built on first use, in the process that uses it
        self._durable_lines: Any = None  # the line rules' shards, likewise

    @property
    def ruleset(self) -> Ruleset:
        return self._ruleset

    def evaluate(self, facts: Mapping[str, Any]) -> list[Reason]:
        """The rules that fire for these facts (build_facts output), in file order."""
        return self.evaluate_with_ruleset(facts)[1]

    def evaluate_with_ruleset(self, facts: Mapping[str, Any]) -> tuple[Ruleset, list[Reason]]:
        """Like evaluate, and says which ruleset answered (it may be swapped meanwhile)."""
        from service.adapters import durable_engine

        ruleset = self._ruleset
        fact = engine_fact(facts, ruleset.compiled.properties)
        with durable_engine.LOCK:
            try:
                if ruleset is not self._ruleset:  # swapped while we waited
                    ruleset = self._ruleset
                    fact = engine_fact(facts, ruleset.compiled.properties)
                durable = self._current(durable_engine)
                names = durable.matched(fact)
            except durable_engine.DurableError as exc:
                self._durable = None  # a fresh copy is built for the next claim
                raise EngineFailure(str(exc)) from exc
        return ruleset, _reasons(ruleset, names)

    def _current(self, durable_engine: Any) -> Any:
        if self._durable is None or self._durable.pid != os.getpid():
            self._durable = durable_engine.DurableRulesets(self._ruleset.compiled.shards)
        return self._durable

    def _current_lines(self, durable_engine: Any) -> Any:
        compiled = self._ruleset.line_compiled
        if compiled is None:
            return None
        if self._durable_lines is None or self._durable_lines.pid != os.getpid():
            self._durable_lines = durable_engine.DurableRulesets(compiled.shards, "lines")
        return self._durable_lines

    def evaluate_with_lines(
        self,
        facts: dict[str, Any],
        before_lines: Callable[[Ruleset], None],
        after_lines: Callable[[Ruleset, list[list[Reason]]], None],
    ) -> tuple[Ruleset, list[Reason], list[list[Reason]]]:
        """A claim with line items: `before_lines(ruleset)` fills in the line facts
        (the fee schedule is the ruleset's), the line rules run once per line
        (`facts["lines"]`, each seen as `line` beside the claim's facts), then
        `after_lines(ruleset, fired per line)` updates the claim's facts and the claim
        rules run. All under the engine's one lock and on one ruleset version.

        Returns (ruleset, claim rules fired, line rules fired per line)."""
        from service.adapters import durable_engine

        with durable_engine.LOCK:
            ruleset = self._ruleset
            try:
                before_lines(ruleset)
                per_line: list[list[Reason]] = []
                compiled = ruleset.line_compiled
                lines = self._current_lines(durable_engine)
                base: dict[str, Any] = {}
                if compiled is not None:  # the claim's part of every line's fact, once
                    claim_part = {k: v for k, v in facts.items() if k != "lines"}
                    base = engine_fact(claim_part, compiled.properties)
                for line in facts.get("lines") or []:
                    if lines is None or compiled is None:
                        per_line.append([])
                        continue
                    fact = {**base, **engine_fact({"line": line}, compiled.properties)}
                    per_line.append(_reasons(ruleset, lines.matched(fact), compiled))
                after_lines(ruleset, per_line)
                fact = engine_fact(facts, ruleset.compiled.properties)
                names = self._current(durable_engine).matched(fact)
            except durable_engine.DurableError as exc:
                self._durable = self._durable_lines = None
                raise EngineFailure(str(exc)) from exc
        return ruleset, _reasons(ruleset, names), per_line

    def swap(self, new: Ruleset) -> None:
        """Compile `new` outside the lock, switch under it, then delete the old rules."""
        from service.adapters import durable_engine

        try:
            fresh = durable_engine.DurableRulesets(new.compiled.shards)
            fresh_lines = (
                None
                if new.line_compiled is None
                else durable_engine.DurableRulesets(new.line_compiled.shards, "lines")
            )
        except durable_engine.DurableError as exc:
            raise EngineFailure(str(exc)) from exc
        with durable_engine.LOCK:
            old, self._durable, self._ruleset = self._durable, fresh, new
            old_lines, self._durable_lines = self._durable_lines, fresh_lines
            for stale in (old, old_lines):
                if stale is not None:
                    try:
                        stale.close()
                    except durable_engine.DurableError as exc:
                        raise EngineFailure(str(exc)) from exc

    def close(self) -> None:
        from service.adapters import durable_engine

        with durable_engine.LOCK:
            if self._durable is not None:
                self._durable.close()
                self._durable = None
            if self._durable_lines is not None:
                self._durable_lines.close()
                self._durable_lines = None


def _reasons(ruleset: Ruleset, names: list[str], compiled: Compiled | None = None) -> list[Reason]:
    seen: set[int] = set()
    for name in names:
        index = (compiled or ruleset.compiled).names.get(name)
        if index is not None:
            seen.add(index)
    return [_reason(ruleset.rules[i]) for i in sorted(seen)]


def _reason(rule: Rule) -> Reason:
    return Reason(
        code=rule.code, message=rule.message, rule=rule.id, action=rule.action, carc=rule.carc
    )


def adjudicate(engine: RulesEngine, facts: Mapping[str, Any]) -> Decision:
    """Evaluate the facts and pick the decision by the ruleset's precedence, with the
    payable amount's adjustment lines; `{fact}` in a rule's message is filled in.

    A claim with line items (`facts["lines"]`) is decided per line first: the lines'
    fee-schedule facts are filled in from the deciding ruleset, its line rules run once
    per line, each line is decided (service/domain/lines.py), and the claim's amount
    facts (`payable_amount`, ...) are updated **in `facts`** (a dict: the caller stores
    these facts with the decision) before the claim rules run."""
    if facts.get("lines") and isinstance(facts, dict):
        return _adjudicate_lines(engine, facts)
    ruleset, fired = engine.evaluate_with_ruleset(facts)
    fired = [_filled(reason, facts) for reason in fired]
    return _decide(ruleset, fired, facts, _trace(ruleset, fired), breakdown_from_facts(facts))


def _decide(
    ruleset: Ruleset,
    fired: list[Reason],
    facts: Mapping[str, Any],
    trace: tuple[dict[str, object], ...],
    amounts: Breakdown | None,
    lines: tuple[LineDecision, ...] = (),
) -> Decision:
    return decide(
        fired,
        precedence=ruleset.precedence,
        payable=facts.get("payable_amount", Decimal("0.00")),
        missing_documents=tuple(facts["missing_documents"]),
        ruleset_version=ruleset.version,
        trace=trace,
        claimed=facts["claim"]["amount"],
        amounts=amounts,
        currencies=_currencies(facts),
        lines=lines,
    )


def _trace(
    ruleset: Ruleset, fired: list[Reason], line: int | None = None
) -> tuple[dict[str, object], ...]:
    by_id = {r.id: r for r in ruleset.rules}
    return tuple(
        {
            "rule": r.rule,
            "action": r.action,
            "code": r.code,
            "file": by_id[r.rule].file,
            "line": by_id[r.rule].line,
            **({"item": line} if line is not None else {}),
        }
        for r in fired
    )


def _adjudicate_lines(engine: RulesEngine, facts: dict[str, Any]) -> Decision:
    ruleset, fired, trace, lines, amounts = _evaluate_lines(engine, facts)
    return _decide(ruleset, fired, facts, trace, amounts, lines)


def line_decisions(
    engine: RulesEngine, facts: dict[str, Any]
) -> tuple[tuple[LineDecision, ...], Breakdown | None]:
    """Each line item's decision under the active rules, and the claim's breakdown from
    them (None without coverage), whatever the claim's outcome: what a supervisor may
    approve of a claim with line items. Updates the amount facts in `facts`, as
    adjudicate does; () and None for a claim without line items."""
    if not facts.get("lines"):
        return (), None
    _, _, _, lines, amounts = _evaluate_lines(engine, facts)
    return lines, amounts


def _evaluate_lines(
    engine: RulesEngine, facts: dict[str, Any]
) -> tuple[
    Ruleset,
    list[Reason],
    tuple[dict[str, object], ...],
    tuple[LineDecision, ...],
    Breakdown | None,
]:
    decided: list[LineDecision] = []
    line_fired: list[list[Reason]] = []

    def before_lines(ruleset: Ruleset) -> None:
        fill_line_facts(facts, ruleset.fee_schedule)

    def after_lines(ruleset: Ruleset, per_line: list[list[Reason]]) -> None:
        denials: list[list[dict[str, Any]]] = []
        flat = flatten({k: v for k, v in facts.items() if k != "lines"})
        for line, fired in zip(facts["lines"], per_line, strict=True):
            line_flat = {**flat, **flatten({"line": line})}
            filled = [_filled(r, facts, line_flat) for r in fired]
            line_fired.append(filled)
            denials.append([_line_reason(r) for r in filled if r.action == "reject"])
        decided.extend(apply_line_decisions(facts, denials))

    ruleset, fired, _ = engine.evaluate_with_lines(facts, before_lines, after_lines)
    fired = [_filled(reason, facts) for reason in fired]
    trace = _trace(ruleset, fired)
    lifted: dict[str, Reason] = {}
    lines: list[LineDecision] = []
    for line, line_reasons in zip(decided, line_fired, strict=True):
        trace += _trace(ruleset, line_reasons, line.sequence)
        notes = tuple(_line_reason(r) for r in line_reasons if r.action == "approve")
        if notes and line.outcome != "denied":
            line = replace(line, reasons=line.reasons + notes)
        lines.append(line)
        for r in line_reasons:  # a line that needs a person or a document holds the claim
            if r.action in ("escalate", "request_info"):
                lifted.setdefault(r.rule, r)
    fired += [r for r in lifted.values() if r.rule not in {f.rule for f in fired}]
    coverage = facts.get("coverage") or {}
    amounts = None
    if coverage.get("found") and "aggregate_remaining" in facts:
        amounts = claim_breakdown(
            lines,
            limit_per_claim=Decimal(str(coverage["limit_per_claim"])),
            aggregate_remaining=Decimal(str(facts["aggregate_remaining"])),
        )
    return ruleset, fired, trace, tuple(lines), amounts


def _line_reason(reason: Reason) -> dict[str, Any]:
    return {"code": reason.code, "carc": reason.carc, "message": reason.message}


def _currencies(facts: Mapping[str, Any]) -> tuple[str, str] | None:
    """(claim currency, policy currency) when they differ, else None."""
    if facts.get("currency_matches", True):
        return None
    return str(facts["claim"]["currency"]), str(facts["policy"]["currency"])


_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")


def _filled(reason: Reason, facts: Mapping[str, Any], flat: dict[str, Any] | None = None) -> Reason:
    """`{fact.name}` in the message replaced by the fact's value (money with the claim's
    decimals); an unknown fact stays as written. `flat`: the facts already flattened."""
    if "{" not in reason.message:
        return reason
    flat = flat if flat is not None else flatten(facts)
    currency = str(flat.get("claim.currency") or "")

    def value(match: re.Match[str]) -> str:
        found = flat.get(match.group(1))
        if found is None:
            return match.group(0)
        if isinstance(found, Decimal):
            return fmt(found, currency) or ""
        return str(found)

    return replace(reason, message=_PLACEHOLDER.sub(value, reason.message))
