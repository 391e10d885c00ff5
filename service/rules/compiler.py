"""Rule model -> durable_rules JSON rulesets, sharded so no engine limit can be reached.

Each rule becomes a disjunction of plain conjunctions (its "branches"); each branch
is one durable rule `{"all": [{"m": {"$and": [kind == claim, leaf, ...]}}]}`.
durable_rules turns every conjunction into a path in a tree of alpha nodes
(identical prefixes are shared). Its fixed-size tables live on those nodes, so
the compiler simulates the tree and starts a new durable ruleset (a shard)
before any table could fill up. See rules/README.md and the adapter for the limits.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from service.domain.calendar import Duration, Span
from service.domain.facts import FACTS, date_number, flatten
from service.rules.loader import Condition, Group, Leaf, Problem, Rule

MAX_BRANCHES = 64  # alternatives one rule may expand to
# Engine limits (durable_rules 2.0.28 source) and the margins we keep below them.
SAFE_CHILDREN = 256  # hash table of 512 conditions under one node (512 = hang)
SAFE_NEX = 100  # list of 128 `not present` conditions under one node
SAFE_BETA = 200  # list of 256 rules ending on the same node
SAFE_STACK = 48  # 64 conditions true at once while matching one fact (error 303)
SAFE_RULES = 1000  # 4,096 rules per ruleset (error 106)
KIND = "kind"
ALWAYS = "always"
_NEGATE = {"eq": "ne", "ne": "eq", "lt": "gte", "gte": "lt", "gt": "lte", "lte": "gt"}
_DURABLE_OP = {"ne": "$neq", "lt": "$lt", "lte": "$lte", "gt": "$gt", "gte": "$gte"}


class ELeaf(NamedTuple):
    """One engine comparison: prop <op> value, or prop <op> other fact (ref)."""

    prop: str
    op: str  # eq ne lt lte gt gte ex nex
    value: Any = None
    ref: str | None = None


Branch = tuple[ELeaf, ...]


class _TooMany(Exception):
    pass


def engine_value(value: Any) -> Any:
    """Python fact or rule value -> what the engine compares (None = leave out)."""
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, date):
        return date_number(value)
    return None


# A calendar duration fact (a Span) reaches the engine as two numbers: its total days,
# compared with {days: n}, and months x 100 + days, compared with {months|years: n} as
# months x 100 (service/domain/calendar.py shows why that order is the calendar's).
DAYS_SUFFIX = "__days"
CALENDAR_SUFFIX = "__calendar"


def _duration_target(leaf: Leaf) -> tuple[str, Any]:
    """(engine property, engine value) of a comparison with a duration value."""
    value = leaf.value
    assert isinstance(value, Duration)
    if value.unit == "days":
        return leaf.fact + DAYS_SUFFIX, value.count
    return leaf.fact + CALENDAR_SUFFIX, value.months * 100


def _leaf_nnf(leaf: Leaf, negate: bool) -> Any:
    """A rule leaf as ("and"|"or", [...]) of ELeafs, with `not` pushed inside."""
    prop = leaf.fact
    if isinstance(leaf.value, Duration) and leaf.op not in ("present", "in", "not_in"):
        prop, value = _duration_target(leaf)
        if not negate:
            return ELeaf(prop, leaf.op, value)
        return ("or", [ELeaf(prop, _NEGATE[leaf.op], value), ELeaf(prop, "nex", 1)])
    if leaf.op == "present":
        if _is_duration_fact(prop):
            prop += DAYS_SUFFIX
        return ELeaf(prop, "ex" if leaf.value != negate else "nex", 1)
    if leaf.ref is not None:
        if not negate:
            return ELeaf(prop, leaf.op, None, leaf.ref)
        return (
            "or",
            [
                ELeaf(prop, _NEGATE[leaf.op], None, leaf.ref),
                ELeaf(prop, "nex", 1),
                ELeaf(leaf.ref, "nex", 1),
            ],
        )
    if leaf.op in ("in", "not_in"):
        values = [engine_value(v) for v in leaf.value]
        positive = (leaf.op == "in") != negate
        if positive:
            alternatives: list[Any] = [ELeaf(prop, "eq", v) for v in values]
            if negate:  # not (not_in) = in, or unknown
                alternatives.append(ELeaf(prop, "nex", 1))
            return ("or", alternatives)
        excluded = ("and", [ELeaf(prop, "ne", v) for v in values])
        return ("or", [excluded, ELeaf(prop, "nex", 1)]) if negate else excluded
    value = engine_value(leaf.value)
    if not negate:
        return ELeaf(prop, leaf.op, value)
    return ("or", [ELeaf(prop, _NEGATE[leaf.op], value), ELeaf(prop, "nex", 1)])


def _is_duration_fact(name: str) -> bool:
    fact = FACTS.get(name)
    return fact is not None and fact.type == "duration"


def _nnf(cond: Condition, negate: bool = False) -> Any:
    if isinstance(cond, Leaf):
        return _leaf_nnf(cond, negate)
    if cond.kind == "not":
        return _nnf(cond.items[0], not negate)
    kind = {"all": "and", "any": "or"}[cond.kind]
    if negate:
        kind = "or" if kind == "and" else "and"
    return (kind, [_nnf(item, negate) for item in cond.items])


def _dnf(node: Any, cap: int) -> list[list[ELeaf]]:
    if isinstance(node, ELeaf):
        return [[node]]
    kind, items = node
    parts = [_dnf(item, cap) for item in items]
    size = sum(map(len, parts)) if kind == "or" else math.prod(map(len, parts))
    if size > cap:  # counted before it is built: 9 `any` of 9 would be 387 million
        raise _TooMany
    if kind == "or":
        return [branch for part in parts for branch in part]
    return [list(itertools.chain.from_iterable(combo)) for combo in itertools.product(*parts)]


def _order(leaf: ELeaf) -> tuple[int, str, str, str]:
    literal_eq = leaf.op == "eq" and leaf.ref is None
    return (0 if literal_eq else 1, leaf.prop, leaf.op, repr(leaf.value) + str(leaf.ref))


def satisfiable(branch: Iterable[ELeaf]) -> bool:
    """False when the comparisons on one fact contradict each other."""
    by_prop: dict[str, list[ELeaf]] = {}
    for leaf in branch:
        by_prop.setdefault(leaf.prop, []).append(leaf)
        if leaf.ref is not None:
            by_prop.setdefault(leaf.ref, []).append(ELeaf(leaf.ref, "ex", 1))
    for leaves in by_prop.values():
        ops = {leaf.op for leaf in leaves}
        if "nex" in ops and ops != {"nex"}:
            return False
        literal = [leaf for leaf in leaves if leaf.ref is None and leaf.op not in ("ex", "nex")]
        equal = {leaf.value for leaf in literal if leaf.op == "eq"}
        if len(equal) > 1 or equal & {leaf.value for leaf in literal if leaf.op == "ne"}:
            return False
        if not _interval_possible(literal, equal):
            return False
    return True


def _interval_possible(literal: list[ELeaf], equal: set[Any]) -> bool:
    low: tuple[Any, bool] | None = None  # (bound, inclusive)
    high: tuple[Any, bool] | None = None
    for leaf in literal:
        if leaf.op in ("gt", "gte"):
            bound = (leaf.value, leaf.op == "gte")
            if low is None or bound[0] > low[0] or (bound[0] == low[0] and not bound[1]):
                low = bound
        elif leaf.op in ("lt", "lte"):
            bound = (leaf.value, leaf.op == "lte")
            if high is None or bound[0] < high[0] or (bound[0] == high[0] and not bound[1]):
                high = bound
    if low and high and (low[0] > high[0] or (low[0] == high[0] and not (low[1] and high[1]))):
        return False
    for value in equal:
        if low and (value < low[0] or (value == low[0] and not low[1])):
            return False
        if high and (value > high[0] or (value == high[0] and not high[1])):
            return False
    return True


def rule_branches(rule: Rule) -> list[Branch]:
    """The rule as alternatives of plain conjunctions, contradictions dropped."""
    assert rule.when is not None
    parts: list[Condition] = [rule.when]
    pos = rule.when.pos
    if rule.valid_from is not None:
        parts.append(Leaf("claim.date_of_loss", "gte", rule.valid_from, pos))
    if rule.valid_to is not None:
        parts.append(Leaf("claim.date_of_loss", "lte", rule.valid_to, pos))
    try:
        raw = _dnf(_nnf(Group("all", tuple(parts), pos)), MAX_BRANCHES * 4)
    except _TooMany:
        return [(ELeaf("?", "ex", i),) for i in range(MAX_BRANCHES * 4 + 1)]
    out: dict[Branch, None] = {}
    for branch in raw:
        # durable treats a comparison with a missing other fact as true: require it
        guards = {ELeaf(leaf.ref, "ex", 1) for leaf in branch if leaf.ref is not None}
        unique = tuple(sorted(set(branch) | guards, key=_order))
        if satisfiable(unique):
            out[unique] = None
    return list(out)


# ---- the alpha-node tree durable builds, simulated to respect its tables ----


class _Node:
    __slots__ = ("children", "beta", "w")

    def __init__(self) -> None:
        self.children: dict[tuple[str, str, str], _Node] = {}
        self.beta = 0
        self.w = 0

    def pushed(self) -> int:
        """Worst case of child conditions true at once (equalities on one fact: one)."""
        eq_props = {k[0] for k in self.children if k[1] == "eq"}
        return len(eq_props) + sum(1 for k in self.children if k[1] != "eq")

    def refresh(self) -> None:
        pushed = self.pushed()
        deepest = max((c.w for c in self.children.values()), default=0)
        self.w = 0 if pushed == 0 else max(pushed, pushed - 1 + deepest)

    def problem(self) -> str | None:
        nex = sum(1 for k in self.children if k[1] == "nex")
        if len(self.children) - nex > SAFE_CHILDREN:
            return f"more than {SAFE_CHILDREN} different conditions follow the same conditions"
        if nex > SAFE_NEX:
            return f"more than {SAFE_NEX} `present: false` conditions follow the same conditions"
        if self.beta > SAFE_BETA:
            return f"more than {SAFE_BETA} rules have exactly the same conditions"
        return None


def _key(leaf: ELeaf) -> tuple[str, str, str]:
    op = "eq" if leaf.op == "eq" and leaf.ref is None else leaf.op + ("$m" if leaf.ref else "")
    return (leaf.prop, op, json.dumps(leaf.value) + (leaf.ref or ""))


class _Shard:
    def __init__(self) -> None:
        self.root = _Node()
        self.rules: list[int] = []
        self.count = 1  # the always-firing rule

    def add(self, branches: list[Branch]) -> str | None:
        for branch in branches:
            path = [self.root]
            node = self.root.children.setdefault((KIND, "eq", '"claim"'), _Node())
            path.append(node)
            for leaf in branch:
                node = node.children.setdefault(_key(leaf), _Node())
                path.append(node)
            node.beta += 1
            for n in reversed(path):
                n.refresh()
                message = n.problem()
                if message:
                    return message
        self.count += len(branches)
        if self.root.w > SAFE_STACK:
            return f"more than {SAFE_STACK} conditions could be true at once"
        if self.count > SAFE_RULES:
            return f"more than {SAFE_RULES} rule alternatives"
        return None


@dataclass(frozen=True)
class Compiled:
    shards: tuple[dict[str, Any], ...]  # one durable ruleset definition per shard
    names: Mapping[str, int]  # durable rule name -> index in the rule list
    properties: frozenset[str]  # the flattened facts the rules read


def _durable_leaf(leaf: ELeaf) -> dict[str, Any]:
    if leaf.op in ("ex", "nex"):
        return {f"${leaf.op}": {leaf.prop: 1}}
    value = {"$m": leaf.ref} if leaf.ref is not None else leaf.value
    if leaf.op == "eq":
        return {leaf.prop: value}
    return {_DURABLE_OP[leaf.op]: {leaf.prop: value}}


LINE_PREFIX = "line."


def _facts_of(cond: Condition) -> set[str]:
    if isinstance(cond, Leaf):
        return {cond.fact} | ({cond.ref} if cond.ref else set())
    return set().union(*(_facts_of(item) for item in cond.items))


def is_line_rule(rule: Rule) -> bool:
    """A rule that names a line fact (`line.code`, ...): evaluated once per line item."""
    return rule.when is not None and any(
        name.startswith(LINE_PREFIX) for name in _facts_of(rule.when)
    )


def compile_split(rules: list[Rule]) -> tuple[Compiled, Compiled | None, list[Problem]]:
    """The claim-level rules and the line rules (None: there are none) compiled apart:
    a line rule never sees a claim without its line, and a claim rule never runs per line."""
    line_rules = {i for i, rule in enumerate(rules) if is_line_rule(rule)}
    claim, problems = compile_rules(rules, skip=line_rules)
    if not line_rules:
        return claim, None, problems
    lines, more = compile_rules(rules, skip=set(range(len(rules))) - line_rules)
    return claim, lines, problems + more


def compile_rules(
    rules: list[Rule], skip: set[int] | frozenset[int] = frozenset()
) -> tuple[Compiled, list[Problem]]:
    """Compile the rules (but those whose index is in `skip`) into shards; each durable
    rule is named after the index of its rule in `rules`."""
    problems: list[Problem] = []
    assigned: list[list[tuple[int, list[Branch]]]] = [[]]
    shard = _Shard()
    for index, rule in enumerate(rules):
        if index in skip:
            continue
        branches = rule_branches(rule)
        if shard.add(branches) is None:
            assigned[-1].append((index, branches))
            continue
        shard = _Shard()  # rebuild: start a new shard with this rule alone
        message = shard.add(branches)
        if message is not None:
            problems.append(
                Problem(
                    rule.file,
                    rule.line,
                    rule.column,
                    f"rule {rule.id} is too large for the engine: {message}",
                )
            )
            shard = _Shard()
            assigned.append([])
            continue
        assigned.append([(index, branches)])
    names: dict[str, int] = {}
    shards: list[dict[str, Any]] = []
    props: set[str] = set()
    for members in assigned:
        definition: dict[str, Any] = {ALWAYS: {"all": [{"m": {KIND: "claim"}}]}}
        for index, branches in members:
            for b, branch in enumerate(branches):
                name = f"r{index}_{b}"
                names[name] = index
                conds = [{KIND: "claim"}] + [_durable_leaf(leaf) for leaf in branch]
                definition[name] = {"all": [{"m": {"$and": conds}}]}
                props.update(leaf.prop for leaf in branch)
                props.update(leaf.ref for leaf in branch if leaf.ref)
        if members or not shards:
            shards.append(definition)
    return Compiled(tuple(shards), names, frozenset(props)), problems


def limit_problems(rules: list[Rule]) -> list[Problem]:
    return compile_split(rules)[2]


def engine_fact(facts: Mapping[str, Any], properties: frozenset[str]) -> dict[str, Any]:
    """Only the facts the rules read, flattened, as engine values; unknowns left out."""
    out: dict[str, Any] = {}
    for name, value in flatten(facts).items():
        if isinstance(value, Span):
            for prop, number in (
                (name + DAYS_SUFFIX, value.total_days),
                (name + CALENDAR_SUFFIX, value.calendar_number()),
            ):
                if prop in properties:
                    out[prop] = number
            continue
        if name in properties:
            converted = engine_value(value)
            if converted is not None:
                out[name] = converted
    return out


# ---- plain-Python reference evaluation of the rule model ----


def evaluate_python(rule: Rule, facts: Mapping[str, Any]) -> bool:
    """Does the rule match? Same meaning as the engine, computed directly in Python."""
    flat = flatten(facts)
    loss = flat.get("claim.date_of_loss")
    if rule.valid_from is not None and (loss is None or loss < rule.valid_from):
        return False
    if rule.valid_to is not None and (loss is None or loss > rule.valid_to):
        return False
    assert rule.when is not None
    return _holds(rule.when, flat)


def _holds(cond: Condition, flat: Mapping[str, Any]) -> bool:
    if isinstance(cond, Group):
        if cond.kind == "all":
            return all(_holds(c, flat) for c in cond.items)
        if cond.kind == "any":
            return any(_holds(c, flat) for c in cond.items)
        return not _holds(cond.items[0], flat)
    value = flat.get(cond.fact)
    if cond.op == "present":
        return bool((value is not None) == cond.value)
    other = flat.get(cond.ref) if cond.ref is not None else cond.value
    if value is None or other is None or isinstance(value, list):
        return False
    if cond.op == "in":
        return bool(value in other)
    if cond.op == "not_in":
        return value not in other
    return bool(_COMPARE[cond.op](value, other))


_COMPARE = {
    "eq": lambda a, b: a == b,
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "lte": lambda a, b: a <= b,
    "gt": lambda a, b: a > b,
    "gte": lambda a, b: a >= b,
}
