"""Static checks of a rules folder: every mistake as Problem(file, line, column, message).

`check_directory` also builds the rule model, so loading and checking are one pass.
`read_folder` and `check_files` are its two halves: reading stays within the file
count and size limits, checking within depth, conditions per rule and rules per
ruleset (service/rules/limits.py), so no folder can make a check slow or deep.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from service.domain.calendar import Duration
from service.domain.decision import DEFAULT_PRECEDENCE
from service.domain.facts import FACTS
from service.domain.fee_schedule import FeeSchedule
from service.domain.model import CLAIM_TYPES
from service.rules import compiler
from service.rules.fee_schedules import read_fee_schedules
from service.rules.limits import Limits
from service.rules.loader import (
    ACTIONS,
    CARC,
    COMBINATORS,
    OPERATORS,
    RULE_KEYS,
    THEN_KEYS,
    TOP_KEYS,
    Condition,
    Group,
    LDict,
    Leaf,
    LList,
    Pos,
    Problem,
    Rule,
    is_fee_schedule,
    key_pos_of,
    pos_of,
    rule_files,
    shown,
    suggest,
)
from service.rules.reader import Tally, parse_yaml

UPPER_SNAKE = re.compile(r"^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$")
MAX_RULE_ID = 64  # characters; ids are quoted in decisions, traces and reports
PLACEHOLDER = re.compile(r"\{([a-z_][a-z0-9_.]*)\}")  # {fact.name} in a message
SCHEMA_PATH = Path(__file__).resolve().parents[2] / "rules" / "schema" / "rules.schema.json"
OPS_BY_TYPE = {
    "money": OPERATORS,
    "integer": OPERATORS,
    "date": OPERATORS,
    "boolean": ("eq", "ne", "present"),
    "enum": ("eq", "ne", "in", "not_in", "present"),
    "string": ("eq", "ne", "in", "not_in", "present"),
    "list": ("present",),
    "duration": ("lt", "lte", "gt", "gte", "present"),
}
ORDER_OPS = ("lt", "lte", "gt", "gte")
NUMERIC = ("money", "integer")


@dataclass
class CheckResult:
    rules: list[Rule] = field(default_factory=list)
    precedence: tuple[str, ...] = DEFAULT_PRECEDENCE
    required_documents: dict[str, tuple[str, ...]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    fee_schedule: FeeSchedule = field(default_factory=FeeSchedule)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


class _Ctx:
    def __init__(self, problems: list[Problem], limits: Limits) -> None:
        self.problems = problems
        self.limits = limits
        self.tally = Tally()
        self.ids: list[tuple[str, Pos]] = []  # every rule id seen, valid rule or not

    def err(self, pos: Pos, message: str, severity: str = "error") -> None:
        self.problems.append(Problem(pos.file, pos.line, pos.column, message, severity))


def check_directory(directory: Path, limits: Limits | None = None) -> CheckResult:
    """Read and check every rule file of the folder (see read_folder and check_files)."""
    limits = limits or Limits()
    files, problems = read_folder(Path(directory), limits)
    if problems:
        return CheckResult(files=files, problems=problems)
    return check_files(files, limits)


def read_folder(directory: Path, limits: Limits) -> tuple[dict[str, str], list[Problem]]:
    """The rule files' text by relative path; a folder over a limit is refused unread.

    Problems about the folder itself name the folder as their file (line 1).
    """
    here = Pos(str(directory), 1, 1)
    ctx = _Ctx([], limits)
    files: dict[str, str] = {}
    if not directory.is_dir():
        ctx.err(here, "rules folder not found")
        return files, ctx.problems
    paths = rule_files(directory, limits.max_files + 1)
    if not paths:
        ctx.err(here, "no rule files (*.yaml) in this folder")
    if len(paths) > limits.max_files:
        ctx.err(here, limits.refusal("max_files", "too many rule files in the folder"))
        return files, ctx.problems
    total = 0
    for path in paths:
        rel = path.relative_to(directory).as_posix()
        if not _utf8(rel):  # bytes the file system gave back as surrogates
            shown = shown_name(rel)
            ctx.err(Pos(shown, 1, 1), "the file name is not UTF-8 text; rename the file")
            continue
        try:
            size = path.stat().st_size
            total += size
            if size > limits.max_file_bytes:
                what = f"the file is {size:,} bytes"
                ctx.err(Pos(rel, 1, 1), limits.refusal("max_file_bytes", what))
            elif total > limits.max_total_bytes:
                what = "the rule files are too large together"
                ctx.err(here, limits.refusal("max_total_bytes", what))
                break
            else:
                with path.open("rb") as handle:  # the file may grow meanwhile: read no more
                    data = handle.read(limits.max_file_bytes + 1)
                files[rel] = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            ctx.err(Pos(rel, 1, 1), f"not UTF-8 text (byte {exc.start:,} cannot be read)")
        except OSError as exc:
            ctx.err(Pos(rel, 1, 1), f"cannot read the file: {exc.strerror or exc}")
    return files, ctx.problems


def _utf8(name: str) -> bool:
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def shown_name(name: str) -> str:
    """A file name as a problem quotes it: bytes that are not UTF-8 as \\xNN escapes,
    control characters escaped (Problem cuts it to 200 characters)."""
    text = name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    if not text.isprintable():
        text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
    return text


def check_files(files: Mapping[str, str], limits: Limits | None = None) -> CheckResult:
    """Check rule files given as {relative name: text}; builds the rule model as it goes."""
    limits = limits or Limits()
    result = CheckResult()
    ctx = _Ctx(result.problems, limits)
    if not files:
        ctx.err(Pos("files", 1, 1), "no rule files")
    settings_seen: dict[str, Pos] = {}
    total = 0
    schedules: dict[str, str] = {}
    for rel in sorted(files):
        text = files[rel]
        total += len(text)
        result.files[rel] = text
        if total > limits.max_total_bytes:
            what = "the rule files are too large together"
            ctx.err(Pos(rel, 1, 1), limits.refusal("max_total_bytes", what))
            break
        if is_fee_schedule(rel):
            schedules[rel] = text
            continue
        _check_file(ctx, rel, text, result, settings_seen)
        if ctx.tally.rules > limits.max_rules:
            break  # refused at the first rule too many: the rest is not read
    result.fee_schedule, fee_problems = read_fee_schedules(schedules, limits.max_fee_rows)
    result.problems.extend(fee_problems)
    _check_across(ctx, result)
    result.problems.sort(key=lambda p: (p.file, p.line, p.column))
    return result


def _check_file(
    ctx: _Ctx, rel: str, text: str, result: CheckResult, settings_seen: dict[str, Pos]
) -> None:
    start = Pos(rel, 1, 1)
    errors_before = len(ctx.problems)
    doc = parse_yaml(text, rel, ctx.problems, ctx.limits, ctx.tally)
    if len(ctx.problems) > errors_before and doc is None:
        return
    if doc is None:
        ctx.err(start, "empty file: expected `rules:` or settings")
        return
    if not isinstance(doc, LDict):
        ctx.err(getattr(doc, "pos", start), "a rule file must be a mapping with `rules:`")
        return
    for key in doc:
        if key not in TOP_KEYS:
            ctx.err(
                key_pos_of(doc, key, start), f"unknown key {shown(key)}{suggest(key, TOP_KEYS)}"
            )
    for key in ("precedence", "required_documents"):
        if key in doc:
            where = key_pos_of(doc, key, start)
            if key in settings_seen:
                first = settings_seen[key]
                ctx.err(where, f"{key} is already set in {first.file}:{first.line}")
            settings_seen[key] = where
    if "precedence" in doc:
        _precedence(ctx, doc, result)
    if "required_documents" in doc:
        _required_documents(ctx, doc, result)
    if "rules" in doc:
        rules = doc["rules"]
        if not isinstance(rules, LList):
            ctx.err(pos_of(doc, "rules", start), "`rules` must be a list of rules")
        else:
            for i, item in enumerate(rules):
                rule = _rule(ctx, item, pos_of(rules, i, start))
                if rule is not None:
                    result.rules.append(rule)
    if len(ctx.problems) == errors_before:
        _schema(ctx, rel, doc)


def _precedence(ctx: _Ctx, doc: LDict, result: CheckResult) -> None:
    value, where = doc["precedence"], pos_of(doc, "precedence", doc.pos)
    if not isinstance(value, list) or sorted(map(str, value)) != sorted(ACTIONS):
        ctx.err(where, f"precedence must list each action once: {', '.join(ACTIONS)}")
        return
    result.precedence = tuple(value)


def _required_documents(ctx: _Ctx, doc: LDict, result: CheckResult) -> None:
    value, where = doc["required_documents"], pos_of(doc, "required_documents", doc.pos)
    if not isinstance(value, dict):
        ctx.err(where, "required_documents maps a claim type to a list of document types")
        return
    for claim_type, docs in value.items():
        kp = key_pos_of(value, claim_type, where)
        if claim_type not in CLAIM_TYPES:
            ctx.err(kp, f"unknown claim type {shown(claim_type)}{suggest(claim_type, CLAIM_TYPES)}")
        elif not isinstance(docs, list) or not all(isinstance(d, str) and d for d in docs):
            ctx.err(pos_of(value, claim_type, kp), "expected a list of document types")
        else:
            result.required_documents[claim_type] = tuple(docs)


def _text(ctx: _Ctx, node: LDict, key: str, required: bool = True) -> str | None:
    value = node.get(key)
    if value is None:
        if required:
            ctx.err(node.pos, f"missing required key {shown(key)}")
        return None
    if not isinstance(value, str) or not value.strip():
        ctx.err(pos_of(node, key, node.pos), f"{shown(key)} must be non-empty text")
        return None
    return value


def _rule(ctx: _Ctx, node: Any, where: Pos) -> Rule | None:
    if not isinstance(node, LDict):
        ctx.err(where, "each rule must be a mapping with id, description, owner, when, then")
        return None
    before = len(ctx.problems)
    for key in node:
        if key not in RULE_KEYS:
            ctx.err(
                key_pos_of(node, key, where), f"unknown key {shown(key)}{suggest(key, RULE_KEYS)}"
            )
    rule_id = _text(ctx, node, "id")
    if rule_id is not None:
        ctx.ids.append((rule_id, where))
    if rule_id is not None and len(rule_id) > MAX_RULE_ID:
        what = f"rule id is {len(rule_id):,} characters long; at most {MAX_RULE_ID}"
        ctx.err(pos_of(node, "id", where), f"{what}: shorten it")
    elif rule_id is not None and not UPPER_SNAKE.match(rule_id):
        ctx.err(pos_of(node, "id", where), f"rule id {shown(rule_id)} must be UPPER_SNAKE_CASE")
    description = _text(ctx, node, "description")
    if description is not None and "\n" in description.strip():
        ctx.err(pos_of(node, "description", where), "description must be one line")
    owner = _text(ctx, node, "owner")
    valid_from = _date_value(ctx, node, "valid_from")
    valid_to = _date_value(ctx, node, "valid_to")
    if valid_from and valid_to and valid_from > valid_to:
        ctx.err(
            pos_of(node, "valid_from", where),
            f"rule can never fire: valid_from {valid_from} is after valid_to {valid_to}",
        )
    when: Condition | None = None
    if "when" not in node:
        ctx.err(where, "missing required key 'when'")
    else:
        when = _condition(ctx, node["when"], pos_of(node, "when", where))
        count = 0 if when is None else _count_conditions(when)
        if count > ctx.limits.max_conditions:
            what = f"rule {rule_id} has {count:,} conditions (each `in` value counts)"
            ctx.err(pos_of(node, "when", where), ctx.limits.refusal("max_conditions", what))
    then = _then(ctx, node, where)
    if len(ctx.problems) > before or when is None or then is None:
        return None
    assert rule_id and description and owner
    action, code, carc, message = then
    return Rule(
        rule_id,
        description.strip(),
        owner,
        action,
        code,
        carc,
        message,
        valid_from,
        valid_to,
        where.file,
        where.line,
        when,
        where.column,
    )


def _date_value(ctx: _Ctx, node: LDict, key: str) -> date | None:
    if key not in node:
        return None
    value = _to_date(node[key])
    if value is None:
        ctx.err(pos_of(node, key, node.pos), f"{key} must be a date written YYYY-MM-DD")
    return value


def _to_date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            return date.fromisoformat(value)
        except ValueError:
            return None
    return None


def _then(ctx: _Ctx, node: LDict, where: Pos) -> tuple[str, str, str | None, str] | None:
    then = node.get("then")
    if then is None:
        ctx.err(where, "missing required key 'then'")
        return None
    tpos = pos_of(node, "then", where)
    if not isinstance(then, LDict):
        ctx.err(tpos, "`then` must be a mapping with action, code, message")
        return None
    before = len(ctx.problems)
    for key in then:
        if key not in THEN_KEYS:
            ctx.err(
                key_pos_of(then, key, tpos), f"unknown key {shown(key)}{suggest(key, THEN_KEYS)}"
            )
    action = _text(ctx, then, "action")
    if action is not None and action not in ACTIONS:
        ctx.err(
            pos_of(then, "action", tpos),
            f"unknown action {shown(action)}{suggest(action, ACTIONS)}; "
            f"use one of {', '.join(ACTIONS)}",
        )
    code = _text(ctx, then, "code")
    if code is not None and not UPPER_SNAKE.match(code):
        ctx.err(pos_of(then, "code", tpos), f"reason code {shown(code)} must be UPPER_SNAKE_CASE")
    carc = then.get("carc")
    if carc is not None:
        carc = str(carc)
        if carc not in CARC:
            ctx.err(
                pos_of(then, "carc", tpos),
                f"unknown CARC {shown(carc)}{suggest(carc, CARC)}; known: {', '.join(CARC)}",
            )
    message = _text(ctx, then, "message")
    if message is not None:
        for name in PLACEHOLDER.findall(message):
            if name not in FACTS:
                ctx.err(
                    pos_of(then, "message", tpos),
                    f"unknown fact {{{name}}} in the message{suggest(name, FACTS)}",
                )
    if len(ctx.problems) > before:
        return None
    assert action and code and message
    return action, code, carc, message


def _condition(ctx: _Ctx, node: Any, where: Pos) -> Condition | None:
    """A mapping: each key is a combinator (all/any/not) or a fact; several keys = all."""
    if not isinstance(node, LDict) or not node:
        ctx.err(
            getattr(node, "pos", where),
            "a condition is a mapping like `fact: value`, `all: [...]`, `any: [...]` or `not:`",
        )
        return None
    parts: list[Condition] = []
    ok = True
    for key, value in node.items():
        kp = key_pos_of(node, key, where)
        vp = pos_of(node, key, where)
        if key in ("all", "any"):
            if not isinstance(value, LList) or not value:
                ctx.err(vp, f"`{key}` needs a non-empty list of conditions")
                ok = False
                continue
            items = [_condition(ctx, item, pos_of(value, i, vp)) for i, item in enumerate(value)]
            if any(i is None for i in items):
                ok = False
                continue
            parts.append(Group(key, tuple(i for i in items if i is not None), kp))
        elif key == "not":
            inner = _condition(ctx, value, vp)
            if inner is None:
                ok = False
                continue
            parts.append(Group("not", (inner,), kp))
        else:
            leaves = _fact_condition(ctx, key, value, kp, vp)
            if leaves is None:
                ok = False
                continue
            parts.extend(leaves)
    if not ok:
        return None
    return parts[0] if len(parts) == 1 else Group("all", tuple(parts), where)


def _count_conditions(cond: Condition) -> int:
    """Fact comparisons in a condition; `in`/`not_in` count one per value."""
    if isinstance(cond, Leaf):
        return len(cond.value) if cond.op in ("in", "not_in") else 1
    return sum(_count_conditions(item) for item in cond.items)


def _fact_condition(ctx: _Ctx, name: Any, value: Any, kp: Pos, vp: Pos) -> list[Leaf] | None:
    fact = FACTS.get(str(name))
    if fact is None:
        ctx.err(kp, f"unknown fact {shown(name)}{suggest(name, list(FACTS) + list(COMBINATORS))}")
        return None
    if isinstance(value, LDict) and set(value) != {"fact"}:
        leaves = []
        for op, operand in value.items():
            op_pos = key_pos_of(value, op, vp)
            if op not in OPERATORS:
                ctx.err(
                    op_pos,
                    f"unknown operator {shown(op)}{suggest(op, OPERATORS)}; "
                    f"use one of {', '.join(OPERATORS)}",
                )
                return None
            leaf = _leaf(ctx, fact.name, op, operand, pos_of(value, op, op_pos), op_pos)
            if leaf is None:
                return None
            leaves.append(leaf)
        if not leaves:
            ctx.err(vp, "empty operator mapping")
            return None
        return leaves
    leaf = _leaf(ctx, fact.name, "eq", value, vp, kp)
    return None if leaf is None else [leaf]


def _leaf(ctx: _Ctx, name: str, op: str, operand: Any, vp: Pos, where: Pos) -> Leaf | None:
    fact = FACTS[name]
    if op not in OPS_BY_TYPE[fact.type]:
        hint = " (use missing_documents_count)" if fact.type == "list" else ""
        ctx.err(
            where,
            f"operator {shown(op)} does not apply to {name} ({fact.type}); "
            f"allowed: {', '.join(OPS_BY_TYPE[fact.type])}{hint}",
        )
        return None
    if op == "present":
        if not isinstance(operand, bool):
            ctx.err(vp, "`present` takes true or false")
            return None
        return Leaf(name, op, operand, where)
    if isinstance(operand, LDict) and set(operand) == {"fact"}:
        return _ref_leaf(ctx, name, op, operand["fact"], pos_of(operand, "fact", vp), where)
    if op in ("in", "not_in"):
        if not isinstance(operand, list) or not operand:
            ctx.err(vp, f"`{op}` needs a non-empty list, like [a, b]")
            return None
        items = []
        for i, item in enumerate(operand):
            converted = _typed(ctx, name, item, pos_of(operand, i, vp))
            if converted is None:
                return None
            items.append(converted)
        return Leaf(name, op, tuple(items), where)
    converted = _typed(ctx, name, operand, vp)
    return None if converted is None else Leaf(name, op, converted, where)


def _ref_leaf(ctx: _Ctx, name: str, op: str, other: Any, vp: Pos, where: Pos) -> Leaf | None:
    if op in ("in", "not_in"):
        ctx.err(where, f"`{op}` needs a list of values, not another fact")
        return None
    target = FACTS.get(str(other))
    if target is None:
        ctx.err(vp, f"unknown fact {shown(other)}{suggest(other, FACTS)}")
        return None
    mine = FACTS[name].type
    if mine == "duration":
        ctx.err(vp, f"{name} is compared with a duration such as {{years: 1}}, not a fact")
        return None
    compatible = (mine in NUMERIC and target.type in NUMERIC) or mine == target.type
    if not compatible:
        ctx.err(vp, f"cannot compare {name} ({mine}) with {target.name} ({target.type})")
        return None
    return Leaf(name, op, None, where, ref=target.name)


def _typed(ctx: _Ctx, name: str, value: Any, vp: Pos) -> Any:
    fact = FACTS[name]
    kind = fact.type
    if kind in NUMERIC:
        if isinstance(value, bool) or not isinstance(value, int | float):
            ctx.err(vp, f"{name} is {kind}: expected a number, got {shown(value)}")
            return None
        if kind == "integer":
            if not isinstance(value, int):
                ctx.err(vp, f"{name} is a whole number: got {shown(value)}")
                return None
            return value
        number = Decimal(repr(value))
        try:
            if number != number.quantize(Decimal("0.001")):
                ctx.err(vp, f"{name} is money: at most three decimal places, got {shown(value)}")
                return None
        except InvalidOperation:
            ctx.err(vp, f"{name}: {shown(value)} is too large")
            return None
        return number
    if kind == "duration":
        try:
            return Duration.parse(dict(value) if isinstance(value, dict) else value)
        except ValueError as exc:
            ctx.err(vp, f"{name} is a calendar duration like {{years: 1}}: {exc}")
            return None
    if kind == "date":
        day = _to_date(value)
        if day is None:
            ctx.err(vp, f"{name} is a date: write it as YYYY-MM-DD, got {shown(value)}")
        return day
    if kind == "boolean":
        if not isinstance(value, bool):
            ctx.err(vp, f"{name} is true or false, got {shown(value)}")
            return None
        return value
    if not isinstance(value, str):
        ctx.err(vp, f"{name} is text: got {shown(value)}")
        return None
    if kind == "enum" and value not in fact.values:
        ctx.err(
            vp,
            f"{shown(value)} is not a value of {name}{suggest(value, fact.values)}; "
            f"allowed: {', '.join(fact.values)}",
        )
        return None
    return value


def _check_across(ctx: _Ctx, result: CheckResult) -> None:
    seen: dict[str, Pos] = {}
    for rule_id, where in ctx.ids:
        first = seen.setdefault(rule_id, where)
        if first is not where:
            ctx.err(
                where,
                f"duplicate rule id {shown(rule_id)} (first defined at {first.file}:{first.line})",
            )
    rank = {a: i for i, a in enumerate(result.precedence)}
    by_shape: dict[object, Rule] = {}
    for rule in result.rules:
        branches = compiler.rule_branches(rule)
        here = Pos(rule.file, rule.line, rule.column)
        if not branches:
            ctx.err(here, f"rule {rule.id} can never fire: its conditions contradict each other")
            continue
        if len(branches) > compiler.MAX_BRANCHES:
            count = (
                f"more than {compiler.MAX_BRANCHES * 4}"
                if len(branches) > compiler.MAX_BRANCHES * 4
                else str(len(branches))
            )
            ctx.err(
                here,
                f"rule {rule.id} expands to {count} alternatives (most "
                f"{compiler.MAX_BRANCHES}); split it into several rules or shorten `in` lists",
            )
            continue
        shape = frozenset(branches)
        other = by_shape.get(shape)
        if other is None:
            by_shape[shape] = rule
        elif rank[other.action] < rank[rule.action]:
            ctx.err(
                here,
                f"rule {rule.id} has the same conditions as {other.id} "
                f"({other.file}:{other.line}) whose action {shown(other.action)} always wins",
                "warning",
            )
        elif rank[other.action] > rank[rule.action]:
            ctx.err(
                Pos(other.file, other.line, other.column),
                f"rule {other.id} has the same conditions as {rule.id} "
                f"({rule.file}:{rule.line}) whose action {shown(rule.action)} always wins",
                "warning",
            )
    if result.errors:
        return
    for problem in compiler.limit_problems(result.rules):
        result.problems.append(problem)


_validator: Draft202012Validator | None = None


def _schema(ctx: _Ctx, rel: str, doc: LDict) -> None:
    """JSON Schema check; runs when the hand-written checks found nothing in this file."""
    global _validator
    if _validator is None:
        _validator = Draft202012Validator(json.loads(SCHEMA_PATH.read_text(encoding="utf-8")))
    plain = json.loads(json.dumps(doc, default=str))
    for error in sorted(_validator.iter_errors(plain), key=lambda e: list(map(str, e.path))):
        node: Any = doc
        where = doc.pos
        for part in error.path:
            where = pos_of(node, part, where)
            try:
                node = node[part]
            except (KeyError, IndexError, TypeError):
                break
        ctx.err(where, f"schema: {error.message}")
