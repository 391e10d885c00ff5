"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


def test_autogenerate_finds_no_difference(db_url):
    """Alembic's autogenerate comparison (`alembic check`, through the project's env.py)
    against a freshly migrated database, in a fresh interpreter: the tables must be
    registered by service.db.tables itself, not by whatever a test happened to import."""
    result = subprocess.run(
        [sys.executable, "-c", "from service.cli import main; main(['db', 'check'])"],
        cwd=ROOT,
        env={"DATABASE_URL": db_url, "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "matches the tables" in result.stdout


def test_single_head():
    from alembic.script import ScriptDirectory

    from service.db.migrate import alembic_config

    heads = ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads()
    assert len(heads) == 1, heads
