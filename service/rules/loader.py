"""Rule files (YAML) -> rule model, keeping file:line:column of every node.

The loader is forgiving: it records a Problem for anything it cannot read and
carries on, so `claims rules check` reports every mistake at once.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

ACTIONS = ("approve", "reject", "escalate", "request_info")
# X12 Claim Adjustment Reason Codes the rules may use, in plain words.
CARC: dict[str, str] = {
    "1": "Deductible amount",
    "16": "Claim lacks information or documents needed to decide",
    "18": "Exact duplicate claim",
    "26": "Expenses incurred before coverage began",
    "27": "Expenses incurred after coverage ended",
    "29": "The time limit for filing has expired",
    "96": "Non-covered charge (not covered by this policy)",
    "119": "Benefit maximum for this period or occurrence has been reached",
    "197": "Precertification or authorization was absent",
    "204": "This service is not covered under the current benefit plan",
}
OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "not_in", "present")
COMBINATORS = ("all", "any", "not")
RULE_KEYS = ("id", "description", "owner", "when", "then", "valid_from", "valid_to")
THEN_KEYS = ("action", "code", "carc", "message")
TOP_KEYS = ("rules", "precedence", "required_documents")


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    column: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else f"{self.severity}: "
        return f"{self.file}:{self.line}:{self.column}: {tag}{self.message}"


@dataclass(frozen=True)
class Pos:
    file: str
    line: int
    column: int


@dataclass(frozen=True)
class Leaf:
    """`fact <op> value`; `ref` names another fact when the value is {fact: name}."""

    fact: str
    op: str
    value: Any
    pos: Pos
    ref: str | None = None


@dataclass(frozen=True)
class Group:
    kind: str  # all | any | not
    items: tuple[Leaf | Group, ...]
    pos: Pos


Condition = Leaf | Group


@dataclass(frozen=True)
class Rule:
    id: str
    description: str
    owner: str
    action: str
    code: str
    carc: str | None
    message: str
    valid_from: date | None
    valid_to: date | None
    file: str
    line: int
    when: Condition | None = field(default=None, compare=False, repr=False)
    column: int = 1


class LDict(dict[Any, Any]):
    """A YAML mapping that remembers where it and each key/value came from."""

    pos: Pos
    key_pos: dict[Any, Pos]
    val_pos: dict[Any, Pos]


class LList(list[Any]):
    pos: Pos
    item_pos: list[Pos]


def _mark(file: str, node: yaml.Node) -> Pos:
    return Pos(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _make_loader(file: str, problems: list[Problem]) -> type[yaml.SafeLoader]:
    class Loader(yaml.SafeLoader):  # type: ignore[misc]
        pass

    def mapping(loader: yaml.SafeLoader, node: yaml.MappingNode) -> LDict:
        loader.flatten_mapping(node)
        out = LDict()
        out.pos, out.key_pos, out.val_pos = _mark(file, node), {}, {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            kp = _mark(file, key_node)
            if not isinstance(key, str | int | bool | float | date):
                problems.append(Problem(file, kp.line, kp.column, "a key must be plain text"))
                continue
            if key in out:
                problems.append(Problem(file, kp.line, kp.column, f"duplicate key {key!r}"))
            out[key] = loader.construct_object(value_node, deep=True)
            out.key_pos[key], out.val_pos[key] = kp, _mark(file, value_node)
        return out

    def sequence(loader: yaml.SafeLoader, node: yaml.SequenceNode) -> LList:
        out = LList(loader.construct_object(n, deep=True) for n in node.value)
        out.pos, out.item_pos = _mark(file, node), [_mark(file, n) for n in node.value]
        return out

    Loader.add_constructor("tag:yaml.org,2002:map", mapping)
    Loader.add_constructor("tag:yaml.org,2002:seq", sequence)
    return Loader


def parse_yaml(text: str, file: str, problems: list[Problem]) -> Any:
    """YAML text -> LDict/LList tree; syntax errors become Problems (returns None)."""
    try:
        return yaml.load(text, Loader=_make_loader(file, problems))  # noqa: S506 - SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problems.append(Problem(file, line, col, f"YAML syntax error: {exc.problem or exc}"))
    except yaml.YAMLError as exc:
        problems.append(Problem(file, 1, 1, f"YAML error: {exc}"))
    return None


def suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""


def pos_of(container: Any, key: Any, fallback: Pos) -> Pos:
    """Where a key's value sits (or the container, or the fallback)."""
    if isinstance(container, LDict) and key in container.val_pos:
        return container.val_pos[key]
    if isinstance(container, LList) and isinstance(key, int) and key < len(container.item_pos):
        return container.item_pos[key]
    return getattr(container, "pos", fallback)


def key_pos_of(container: Any, key: Any, fallback: Pos) -> Pos:
    if isinstance(container, LDict) and key in container.key_pos:
        return container.key_pos[key]
    return getattr(container, "pos", fallback)


def rule_files(directory: Path) -> list[Path]:
    """Every *.yaml/*.yml under the directory except tests/ and schema/, sorted."""
    found = [
        p
        for p in directory.rglob("*")
        if p.suffix in (".yaml", ".yml")
        and p.is_file()
        and p.relative_to(directory).parts[0] not in ("tests", "schema")
    ]
    return sorted(found, key=lambda p: p.relative_to(directory).as_posix())
