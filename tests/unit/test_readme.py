"""The README's configuration table lists every setting, exactly as generated."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from service.config import SETTINGS

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def load_script():
    spec = importlib.util.spec_from_file_location("config_table", ROOT / "scripts/config_table.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_readme_lists_every_setting():
    readme = (ROOT / "README.md").read_text()
    missing = [s.name for s in SETTINGS if f"| `{s.name}` |" not in readme]
    assert not missing, f"README configuration table lacks {missing}"


def test_readme_table_is_the_generated_one():
    script = load_script()
    readme = (ROOT / "README.md").read_text()
    inside = readme.split(script.START, 1)[1].split(script.END, 1)[0].strip()
    assert inside == script.table(), "run: python scripts/config_table.py --write"


def test_readme_starts_with_the_two_commands():
    first_screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:20])
    assert "make demo" in first_screen and "make test" in first_screen
