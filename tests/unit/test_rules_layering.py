"""service/rules depends on the domain, config and the engine adapter only: the use cases
import it, never the other way round (issue 11: no rules <-> usecases cycle)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit
RULES = Path(__file__).resolve().parents[2] / "service" / "rules"
ALLOWED = ("service.rules", "service.domain", "service.config", "service.adapters.durable_engine")
FORBIDDEN = ("flask", "sqlalchemy", "rq", "redis", "durable", "durable_rules_engine")


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {f"{node.module}.{alias.name}" for alias in node.names}
    return found


def test_the_rules_package_imports_no_use_case_database_or_framework() -> None:
    wrong = {
        f"{path.name}: {name}"
        for path in sorted(RULES.glob("*.py"))
        for name in imports(path)
        if (name.startswith("service.") and not name.startswith(ALLOWED))
        or name.split(".")[0] in FORBIDDEN
    }
    assert wrong == set(), sorted(wrong)
