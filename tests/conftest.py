"""Shared fixtures: real SQLite and PostgreSQL databases, the shipped rules, a fixed clock."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import inspect, text
from werkzeug.datastructures import Headers

from service import config as config_module
from service.clock import FixedClock
from service.db.migrate import upgrade
from service.db.session import dispose_all, get_engine
from service.usecases.context import Context, build_context

ROOT = Path(__file__).resolve().parents[1]
PG_ADMIN_URL = os.environ.get("TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def pg_available() -> bool:
    import psycopg

    try:
        psycopg.connect(PG_ADMIN_URL, connect_timeout=2).close()
        return True
    except psycopg.Error:
        return False


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this run, migrated, dropped at the end."""
    import psycopg

    if not pg_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL not reachable at {PG_ADMIN_URL}")
        pytest.skip("PostgreSQL not reachable (make test starts one)")
    name = f"claims_t_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0]
    url = f"postgresql+psycopg://{base.split('://', 1)[1]}/{name}"
    upgrade(url)
    yield url
    dispose_all()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrate once; each test copies the file."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    get_engine(url).dispose()
    return path


def _truncate(url: str) -> None:
    engine = get_engine(url)
    with engine.begin() as conn:
        tables = [t for t in inspect(conn).get_table_names() if t != "alembic_version"]
        names = ", ".join(f'"{t}"' for t in tables)
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path) -> str:
    """Each test that takes this runs on both databases."""
    if request.param == "sqlite":
        path = tmp_path / "claims.db"
        path.write_bytes(sqlite_template.read_bytes())
        return f"sqlite:///{path}"
    url = request.getfixturevalue("pg_url")
    _truncate(url)
    return url


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    path = tmp_path / "claims.db"
    path.write_bytes(sqlite_template.read_bytes())
    return f"sqlite:///{path}"


def make_config(db_url: str, tmp_path: Path, **overrides: object) -> config_module.Config:
    env = {
        "DATABASE_URL": db_url,
        "INSTANCE_DIR": str(tmp_path / "instance"),
        "REDIS_URL": REDIS_URL,
        "CALLBACK_ALLOW_PRIVATE": "true",
        "LOG_FORMAT": "text",
        "RATE_LIMIT": "100000/minute",  # test_auth sets a small one to see 429
    }
    return config_module.load(env, **overrides)


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(datetime(2026, 6, 15, 9, 0, tzinfo=UTC))


@pytest.fixture
def context(db_url: str, tmp_path: Path, clock: FixedClock) -> Context:
    ctx = build_context(make_config(db_url, tmp_path))
    ctx.clock = clock
    return ctx


@pytest.fixture
def app(context: Context):  # type: ignore[no-untyped-def]
    from service.api.app import create_app

    application = create_app(context.config, context)
    application.testing = True
    return application


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


# Authentication is always on. Test clients send the intake key named "default"
# (so claims keep client id "default") unless a test sends its own Authorization
# header or sets `client.default_auth = False`.
DEFAULT_KEY = "ck_test_default0.test-only-secret-for-the-default-client"


class AuthClient(FlaskClient):
    default_auth = True

    def open(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        if self.default_auth:
            headers = Headers(kwargs.get("headers") or {})
            if "Authorization" not in headers:
                _ensure_default_key(self.application)
                headers["Authorization"] = f"Bearer {DEFAULT_KEY}"
            kwargs["headers"] = headers
        return super().open(*args, **kwargs)


def _ensure_default_key(app) -> None:  # type: ignore[no-untyped-def]
    if app.extensions.get("test_default_key"):
        return
    from service.usecases.manage_api_keys import ensure_api_key

    try:
        ensure_api_key(app.extensions["claims"], DEFAULT_KEY, "default", "intake")
        app.extensions["test_default_key"] = True
    except Exception:  # noqa: BLE001 - database down: requests will say so
        pass


@pytest.fixture(autouse=True)
def _authenticated_test_clients(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Flask, "test_client_class", AuthClient)
