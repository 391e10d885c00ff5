"""A lock held elsewhere or a slow statement cannot hang a request until gunicorn kills
the worker (hardening, finding 3): PostgreSQL's lock_timeout and statement_timeout
(DB_LOCK_TIMEOUT_MS, DB_STATEMENT_TIMEOUT_MS) end the wait, the request answers 503
problem+json with Retry-After, and nothing is half written."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.conftest import _truncate, make_config
from tests.helpers import claim, put_policies

pytestmark = [pytest.mark.integration, pytest.mark.postgres]


def make_app(pg_url: str, tmp_path: Path, **settings: Any) -> Any:
    from service.api.app import create_app
    from service.usecases.context import build_context

    _truncate(pg_url)
    config = make_config(pg_url, tmp_path, **settings)
    app = create_app(config, build_context(config))
    app.testing = True
    return app


def plain(pg_url: str) -> str:
    return pg_url.replace("postgresql+psycopg://", "postgresql://")


def test_intake_behind_a_locked_policy_answers_503_and_writes_nothing(
    pg_url: str, tmp_path: Path
) -> None:
    app = make_app(pg_url, tmp_path, DB_LOCK_TIMEOUT_MS=300, DB_STATEMENT_TIMEOUT_MS=5000)
    client = app.test_client()
    put_policies(client, ["P-DEV"])
    answers: list[Any] = []
    with psycopg.connect(plain(pg_url)) as holder:  # another transaction holds the row
        holder.execute("SELECT 1 FROM policies WHERE number = 'P-DEV' FOR UPDATE")
        worker = threading.Thread(
            target=lambda: answers.append(client.post("/v1/claims", json=claim("P-DEV")))
        )
        worker.start()
        worker.join(20)
        hung = worker.is_alive()
        holder.rollback()  # lets a hung request finish on the old code
        worker.join(20)
    assert not hung, "the intake waited for the lock with no end"
    (response,) = answers
    assert response.status_code == 503, response.get_json()
    assert response.mimetype == "application/problem+json"
    assert response.headers["Retry-After"]
    assert response.get_json()["code"] == "database_busy"
    with psycopg.connect(plain(pg_url)) as conn:
        assert conn.execute("SELECT count(*) FROM claims").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM outbox").fetchone() == (0,)
    assert client.post("/v1/claims", json=claim("P-DEV")).status_code == 201  # lock gone


def test_a_statement_over_the_timeout_answers_503(pg_url: str, tmp_path: Path) -> None:
    app = make_app(pg_url, tmp_path, DB_LOCK_TIMEOUT_MS=20000, DB_STATEMENT_TIMEOUT_MS=300)
    client = app.test_client()
    put_policies(client, ["P-DEV"])
    with psycopg.connect(
        plain(pg_url)
    ) as holder:  # the lock_timeout is longer: the statement_timeout ends it
        holder.execute("SELECT 1 FROM policies WHERE number = 'P-DEV' FOR UPDATE")
        response = client.post("/v1/claims", json=claim("P-DEV"))
        holder.rollback()
    assert response.status_code == 503 and response.get_json()["code"] == "database_busy"
