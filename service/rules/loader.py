"""The rule model and its positions: what rule files (YAML) are read into.

Reading is forgiving: a Problem is recorded for anything that cannot be read and
checking carries on, so `claims rules check` reports every mistake at once. The
bounded YAML reading itself is in reader.py.
"""

from __future__ import annotations

import difflib
import json
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from itertools import islice
from pathlib import Path
from typing import Any

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


MAX_NAME = 200  # characters of a file name quoted in a problem line


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    column: int
    message: str
    severity: str = "error"

    def __str__(self) -> str:
        tag = "" if self.severity == "error" else f"{self.severity}: "
        name = self.file if len(self.file) <= MAX_NAME else self.file[: MAX_NAME - 3] + "..."
        return f"{name}:{self.line}:{self.column}: {tag}{self.message}"


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


def shown(value: Any) -> str:
    """A value as a problem line quotes it, plainly: text in quotes (control characters
    as escapes, cut at 80 characters), dates as YYYY-MM-DD, numbers as written, true,
    false, null, lists and mappings as JSON; never a Python repr."""
    if isinstance(value, str):
        text = value if len(value) <= 80 else value[:77] + "..."
        if not text.isprintable():
            text = "".join(c if c.isprintable() else ascii(c)[1:-1] for c in text)
        return f"'{text}'"
    if isinstance(value, bool) or value is None:
        return {True: "true", False: "false", None: "null"}[value]
    if isinstance(value, (int, float, Decimal)):
        return str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = str(value)
    return text if len(text) <= 80 else text[:77] + "..."


def suggest(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f" (did you mean {shown(close[0])}?)" if close else ""


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


FEE_SCHEDULES = "fee_schedules"  # the folder of fee schedules (*.csv) in a rules folder


def is_fee_schedule(rel: str) -> bool:
    """A fee schedule's relative path: fee_schedules/<name>.csv."""
    parts = rel.split("/")
    return len(parts) >= 2 and parts[0] == FEE_SCHEDULES and rel.endswith(".csv")


def rule_files(directory: Path, most: int | None = None) -> list[Path]:
    """Every *.yaml/*.yml under the directory except tests/ and schema/, and every
    fee_schedules/*.csv, sorted.

    `most`: stop looking after this many (the caller refuses a folder holding more).
    """
    found = (
        p
        for p in directory.rglob("*")
        if (
            (p.suffix in (".yaml", ".yml") and p.relative_to(directory).parts[0] != FEE_SCHEDULES)
            or is_fee_schedule(p.relative_to(directory).as_posix())
        )
        and p.relative_to(directory).parts[0] not in ("tests", "schema")
        and p.is_file()
    )
    return sorted(islice(found, most), key=lambda p: p.relative_to(directory).as_posix())
