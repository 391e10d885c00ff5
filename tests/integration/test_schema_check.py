"""A database the migrations have not reached is one line saying what to run, not a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import PG_ADMIN_URL, pg_available

pytestmark = pytest.mark.integration
CLAIMS = str(Path(sys.executable).with_name("claims"))


def claims(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CLAIMS, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    values = {k: v for k, v in os.environ.items() if k != "DATABASE_URL"}
    values.update(INSTANCE_DIR=str(tmp_path / "instance"), LOG_FORMAT="text")
    return values


def assert_one_line(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode != 0
    assert "Traceback" not in result.stderr, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_cli_on_a_fresh_instance_folder_says_to_run_db_upgrade(env, tmp_path):
    created = claims(env, "apikeys", "create", "--role", "intake", "--name", "portal")
    assert_one_line(created, "has no tables yet", "claims db upgrade", "instance/claims.db")
    assert claims(env, "db", "upgrade").returncode == 0
    again = claims(env, "apikeys", "create", "--role", "intake", "--name", "portal")
    assert again.returncode == 0, again.stderr


def test_serve_refuses_an_unmigrated_or_outdated_database(env):
    refused = claims(env, "serve", "--port", "1")
    assert_one_line(refused, "has no tables yet", "claims db upgrade")
    assert claims(env, "db", "upgrade", "--revision", "0004").returncode == 0
    outdated = claims(env, "serve", "--port", "1")
    assert_one_line(outdated, "at revision 0004, not the newest", "claims db upgrade")
    scheduler = claims(env, "scheduler", "--once")
    assert_one_line(scheduler, "at revision 0004", "claims db upgrade")


@pytest.mark.postgres
def test_an_empty_postgresql_database_gets_the_same_line(env):
    if not pg_available():
        pytest.skip("PostgreSQL not reachable")
    import psycopg

    name = f"claims_empty_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        env["DATABASE_URL"] = PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
        listed = claims(env, "apikeys", "list")
        assert_one_line(listed, "has no tables yet", "claims db upgrade", name)
        env["DATABASE_URL"] = "postgresql://postgres@127.0.0.1:1/nowhere"
        assert_one_line(claims(env, "apikeys", "list"), "cannot reach the database")
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
