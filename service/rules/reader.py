"""Bounded YAML reading: rule file text -> LDict/LList tree with the position of every node.

The tree is built straight from the parser's event stream (libyaml's C parser where
installed), with an explicit stack instead of recursion, so what a file may cost is
known before it is spent:

- anchors (`&a`), aliases (`*a`), merge keys (`<<:`) and tags (`!x`, `!!python/...`)
  are refused at the event that carries them: an alias is never expanded, so a
  "billion laughs" file costs what its bytes cost;
- nesting deeper than `Limits.max_depth` stops the parse at the first event too deep
  (no RecursionError further down: the checker, compiler and schema walk this tree);
- the items of every file's `rules:` list are counted across the folder, and the parse
  stops at item `Limits.max_rules + 1`;
- one document per file; a value that cannot be read (a date such as 2026-02-30, a
  number with 5,000 digits) is a problem at its position, not an exception.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

from service.rules.limits import Limits
from service.rules.loader import LDict, LList, Pos, Problem, shown

_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C parser when libyaml is there
_MERGE = "tag:yaml.org,2002:merge"
_KEY_TYPES = (str, int, bool, float, date)
_NO_KEY = object()  # the mapping on top of the stack waits for a key
_SKIP = object()  # the pending key was refused: drop its value


@dataclass
class Tally:
    """Counts shared by every file of one folder (rules so far)."""

    rules: int = 0


class Refused(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def parse_yaml(
    text: str,
    file: str,
    problems: list[Problem],
    limits: Limits | None = None,
    tally: Tally | None = None,
) -> Any:
    """YAML text -> LDict/LList tree; every refusal or syntax error becomes a Problem.

    Returns None when the file could not be read (the reason is in `problems`) or is empty.
    """
    limits = limits or Limits()
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > limits.max_file_bytes:
        what = f"the file is {size:,} bytes"
        problems.append(Problem(file, 1, 1, limits.refusal("max_file_bytes", what)))
        return None
    builder = _Builder(file, problems, limits, tally or Tally())
    try:
        return builder.build(yaml.parse(text, Loader=_LOADER))
    except Refused as exc:
        problems.append(exc.problem)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = f"YAML syntax error: {exc.problem or exc}"
        if "nesting depth" in message:  # libyaml's own cap (1,000) met before ours
            message = limits.refusal("max_depth", "lists and mappings nested too deep")
        problems.append(Problem(file, line, col, message))
    except yaml.reader.ReaderError as exc:
        line = text.count("\n", 0, exc.position) + 1
        column = exc.position - (text.rfind("\n", 0, exc.position) + 1) + 1
        problems.append(Problem(file, line, column, f"unreadable text: {exc.reason}"))
    except yaml.YAMLError as exc:
        problems.append(Problem(file, 1, 1, f"YAML error: {str(exc).splitlines()[0]}"))
    except UnicodeError:
        problems.append(Problem(file, 1, 1, "the file is not valid UTF-8 text"))
    return None


class _Builder:
    def __init__(self, file: str, problems: list[Problem], limits: Limits, tally: Tally) -> None:
        self.file = file
        self.problems = problems
        self.limits = limits
        self.tally = tally
        # each open collection, with the key it sits under in its parent (None in a list)
        self.stack: list[tuple[LDict | LList, Any]] = []
        self.pending: list[Any] = []  # per open mapping: its key waiting for a value
        self.resolver = Resolver()
        self.constructor = SafeConstructor()

    def pos(self, event: yaml.Event) -> Pos:
        mark = event.start_mark
        return Pos(self.file, mark.line + 1, mark.column + 1) if mark else Pos(self.file, 1, 1)

    def refuse(self, event: yaml.Event, message: str) -> Refused:
        where = self.pos(event)
        return Refused(Problem(self.file, where.line, where.column, message))

    def build(self, events: Any) -> Any:
        root: Any = None
        documents = 0
        for event in events:
            if isinstance(event, yaml.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise self.refuse(event, "one YAML document per file (found a second `---`)")
                continue
            if isinstance(event, yaml.CollectionEndEvent):
                self.stack.pop()
                self.pending.pop()
                continue
            if not isinstance(event, yaml.NodeEvent):
                continue  # stream start/end, document end
            self.screen(event)
            if isinstance(event, yaml.ScalarEvent):
                value: Any = self.scalar(event)
            else:
                if len(self.stack) + 1 > self.limits.max_depth:
                    what = "lists and mappings nested too deep"
                    raise self.refuse(event, self.limits.refusal("max_depth", what))
                value = LDict() if isinstance(event, yaml.MappingStartEvent) else LList()
                value.pos = self.pos(event)
                if isinstance(value, LDict):
                    value.key_pos, value.val_pos = {}, {}
                else:
                    value.item_pos = []
            key = self.place(event, value)
            if self.stack == [] and root is None:
                root = value
            if isinstance(value, LDict | LList):
                self.stack.append((value, key))
                self.pending.append(_NO_KEY)
        return root

    def screen(self, event: yaml.NodeEvent) -> None:
        """Refuse what analysts never need and what makes YAML expensive."""
        if isinstance(event, yaml.AliasEvent):
            raise self.refuse(
                event,
                f"alias *{event.anchor} refused: anchors and aliases are not allowed in rule "
                "files; write each condition out in full",
            )
        if event.anchor is not None:
            raise self.refuse(
                event,
                f"anchor &{event.anchor} refused: anchors and aliases are not allowed in rule "
                "files; write each condition out in full",
            )
        tag = getattr(event, "tag", None)
        if tag is not None:
            raise self.refuse(
                event, f"tag {tag} refused: YAML tags are not allowed in rule files; use quotes"
            )

    def scalar(self, event: yaml.ScalarEvent) -> Any:
        tag = self.resolver.resolve(yaml.ScalarNode, event.value, event.implicit)
        if tag == _MERGE:
            if self.stack and isinstance(self.stack[-1][0], LDict) and self.pending[-1] is _NO_KEY:
                raise self.refuse(
                    event, "merge key << refused: write the keys out in full in each mapping"
                )
            return event.value
        node = yaml.ScalarNode(tag, event.value, event.start_mark, event.end_mark, event.style)
        construct = self.constructor.yaml_constructors.get(tag)
        if construct is None:  # `=` and the like: plain text
            return event.value
        try:
            return construct(self.constructor, node)
        except (ValueError, OverflowError, ArithmeticError, yaml.YAMLError) as exc:
            reason = str(exc).split(";")[0].splitlines()[0] if str(exc) else type(exc).__name__
            raise self.refuse(
                event, f"cannot read the value {shown(event.value[:40])}: {reason}"
            ) from None

    def place(self, event: yaml.NodeEvent, value: Any) -> Any:
        """Put the value where it belongs in the open collection; returns its key there."""
        if not self.stack:
            return None
        parent, parent_key = self.stack[-1]
        if isinstance(parent, LList):
            if (
                len(self.stack) == 2
                and parent_key == "rules"
                and isinstance(self.stack[0][0], LDict)
            ):
                self.count_rule(event)
            parent.append(value)
            parent.item_pos.append(self.pos(event))
            return None
        key = self.pending[-1]
        if key is _NO_KEY:  # this value is a key
            where = self.pos(event)
            if not isinstance(value, _KEY_TYPES):
                self.problems.append(
                    Problem(self.file, where.line, where.column, "a key must be plain text")
                )
                self.pending[-1] = _SKIP
            else:
                if value in parent:
                    self.problems.append(
                        Problem(
                            self.file, where.line, where.column, f"duplicate key {shown(value)}"
                        )
                    )
                parent.key_pos[value] = where
                self.pending[-1] = value
            return None
        self.pending[-1] = _NO_KEY
        if key is _SKIP:
            return None
        parent[key] = value
        parent.val_pos[key] = self.pos(event)
        return key

    def count_rule(self, event: yaml.NodeEvent) -> None:
        self.tally.rules += 1
        if self.tally.rules > self.limits.max_rules:
            what = f"too many rules in the ruleset (this is rule {self.tally.rules:,})"
            raise self.refuse(event, self.limits.refusal("max_rules", what))
