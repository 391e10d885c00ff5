"""Rule files written to hurt (issue 13): what a careless or hostile analyst could save.

Each builder returns the text of one rule file. Anything that loads one runs it
where it cannot take the machine down: `bounded_claims` runs the real CLI in a
child that limits its own address space, and tests of the service load them
through the sandboxed paths.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

RULE_HEAD = """\
rules:
  - id: HOSTILE
    description: A hostile rule
    owner: nobody
    then: {action: reject, code: HOSTILE, message: No.}
    when:
"""


def alias_bomb(levels: int = 10, fanout: int = 9) -> str:
    """Each level an `any:` listing the previous anchor `fanout` times (~600 bytes at 10):
    9**10 conditions once the aliases are expanded."""
    lines = [RULE_HEAD + "      all:", "        - &a0 {claim.amount: {gt: 1}}"]
    for level in range(1, levels + 1):
        refs = ", ".join([f"*a{level - 1}"] * fanout)
        lines.append(f"        - &a{level} {{any: [{refs}]}}")
    return "\n".join(lines) + "\n"


def deep_brackets(depth: int = 20_000) -> str:
    return "rules: " + "[" * depth + "]" * depth + "\n"


def deep_all_not(depth: int = 400) -> str:
    """`all:` and `not:` nested `depth` times in one rule (block style, as analysts write)."""
    lines = [RULE_HEAD.rstrip("\n")]
    indent = " " * 6
    for level in range(depth):
        if level % 2 == 0:
            lines.append(f"{indent}all:")
            lines.append(f"{indent}  - not:")
            indent += " " * 6
    lines.append(f"{indent}claim.amount: {{gt: 1}}")
    return "\n".join(lines) + "\n"


def many_rules(count: int, start: int = 0) -> str:
    lines = ["rules:"]
    for i in range(start, start + count):
        lines.append(
            f"  - {{id: R{i}, description: d, owner: o, when: {{days_to_report: {{gt: {i}}}}}, "
            f"then: {{action: escalate, code: C{i}, message: m}}}}"
        )
    return "\n".join(lines) + "\n"


def write_folder(folder: Path, text: str, name: str = "hostile.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(text, encoding="utf-8")
    return folder


def bounded_claims(
    *args: str, memory_mb: int = 1024, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`claims ARGS` in a child limited to `memory_mb` of address space (and `timeout`):
    on code without the limits a bomb ends there, not in the machine's memory."""
    code = (
        "import resource, sys\n"
        f"resource.setrlimit(resource.RLIMIT_AS, ({memory_mb << 20}, {memory_mb << 20}))\n"
        "sys.argv = ['claims', *sys.argv[1:]]\n"
        "from service.cli import run\n"
        "run()\n"
    )
    try:
        return subprocess.run(
            [sys.executable, "-c", code, *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env={**os.environ, **(env or {})},
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise AssertionError(f"claims {' '.join(args)} ran longer than {timeout} s") from exc
