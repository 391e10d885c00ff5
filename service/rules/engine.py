"""Public facade: load a rules folder, evaluate claims, swap rule versions live."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from service.domain.decision import Decision, Reason, decide
from service.domain.facts import breakdown_from_facts, flatten
from service.domain.money import fmt
from service.rules.checker import check_files, read_folder
from service.rules.compiler import Compiled, compile_rules, engine_fact, evaluate_python
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
    compiled, problems = compile_rules(result.rules)
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
    )


class RulesEngine:
    """Evaluates facts against the active ruleset; one engine per process is enough."""

    def __init__(self, ruleset: Ruleset) -> None:
        self._ruleset = ruleset
        self._durable: Any = None  # built on first use, in the process that uses it

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

    def swap(self, new: Ruleset) -> None:
        """Compile `new` outside the lock, switch under it, then delete the old rules."""
        from service.adapters import durable_engine

        try:
            fresh = durable_engine.DurableRulesets(new.compiled.shards)
        except durable_engine.DurableError as exc:
            raise EngineFailure(str(exc)) from exc
        with durable_engine.LOCK:
            old, self._durable, self._ruleset = self._durable, fresh, new
            if old is not None:
                try:
                    old.close()
                except durable_engine.DurableError as exc:
                    raise EngineFailure(str(exc)) from exc

    def close(self) -> None:
        from service.adapters import durable_engine

        with durable_engine.LOCK:
            if self._durable is not None:
                self._durable.close()
                self._durable = None


def _reasons(ruleset: Ruleset, names: list[str]) -> list[Reason]:
    seen: set[int] = set()
    for name in names:
        index = ruleset.compiled.names.get(name)
        if index is not None:
            seen.add(index)
    return [_reason(ruleset.rules[i]) for i in sorted(seen)]


def _reason(rule: Rule) -> Reason:
    return Reason(
        code=rule.code, message=rule.message, rule=rule.id, action=rule.action, carc=rule.carc
    )


def adjudicate(engine: RulesEngine, facts: Mapping[str, Any]) -> Decision:
    """Evaluate the facts and pick the decision by the ruleset's precedence, with the
    payable amount's adjustment lines; `{fact}` in a rule's message is filled in."""
    ruleset, fired = engine.evaluate_with_ruleset(facts)
    fired = [_filled(reason, facts) for reason in fired]
    by_id = {r.id: r for r in ruleset.rules}
    trace = tuple(
        {
            "rule": r.rule,
            "action": r.action,
            "code": r.code,
            "file": by_id[r.rule].file,
            "line": by_id[r.rule].line,
        }
        for r in fired
    )
    return decide(
        fired,
        precedence=ruleset.precedence,
        payable=facts.get("payable_amount", Decimal("0.00")),
        missing_documents=tuple(facts["missing_documents"]),
        ruleset_version=ruleset.version,
        trace=trace,
        claimed=facts["claim"]["amount"],
        amounts=breakdown_from_facts(facts),
        currencies=_currencies(facts),
    )


def _currencies(facts: Mapping[str, Any]) -> tuple[str, str] | None:
    """(claim currency, policy currency) when they differ, else None."""
    if facts.get("currency_matches", True):
        return None
    return str(facts["claim"]["currency"]), str(facts["policy"]["currency"])


_PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")


def _filled(reason: Reason, facts: Mapping[str, Any]) -> Reason:
    """`{fact.name}` in the message replaced by the fact's value (money with the claim's
    decimals); an unknown fact stays as written."""
    if "{" not in reason.message:
        return reason
    flat = flatten(facts)
    currency = str(flat.get("claim.currency") or "")

    def value(match: re.Match[str]) -> str:
        found = flat.get(match.group(1))
        if found is None:
            return match.group(0)
        if isinstance(found, Decimal):
            return fmt(found, currency) or ""
        return str(found)

    return replace(reason, message=_PLACEHOLDER.sub(value, reason.message))
