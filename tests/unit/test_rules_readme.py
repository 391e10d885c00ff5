"""The analysts' guide lists every shipped rule (docs move with the rules)."""

from __future__ import annotations

from pathlib import Path

import pytest

from service.rules.engine import load_ruleset

pytestmark = pytest.mark.unit
RULES = Path(__file__).resolve().parents[2] / "rules"


def test_readme_lists_every_default_rule():
    readme = (RULES / "README.md").read_text()
    missing = [r.id for r in load_ruleset(RULES).rules if f"`{r.id}`" not in readme]
    assert missing == [], f"add these rules to rules/README.md's default ruleset table: {missing}"
