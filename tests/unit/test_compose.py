"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

Every command a service runs must be a real `claims` subcommand with real
options, and every environment variable set for our image must be a setting
that service/config.py reads.
"""

from __future__ import annotations

from pathlib import Path

import click
import pytest
import yaml

from service.config import SETTINGS

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
# Used only while service.cli cannot be imported at all.
KNOWN_COMMANDS = {("serve",), ("worker",), ("scheduler",), ("db", "upgrade"), ("config",)}


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def our_services(compose: dict) -> dict[str, dict]:
    """Services that run the project's image (not redis/postgres)."""
    return {
        name: svc
        for name, svc in compose["services"].items()
        if "build" in svc or str(svc.get("image", "")).startswith("claims-adjudication")
    }


def resolve(argv: list[str]) -> tuple[click.Command | None, list[str]]:
    """Walk `claims a b --opt` down the click group; return the command and leftovers."""
    try:
        from service.cli import main
    except ImportError:
        words = tuple(a for a in argv if not a.startswith("-"))
        known = any(words[: len(k)] == k for k in KNOWN_COMMANDS)
        return (click.Command("known") if known else None), []
    command: click.Command = main
    rest = list(argv)
    while isinstance(command, click.Group) and rest and not rest[0].startswith("-"):
        sub = command.commands.get(rest[0])
        if sub is None:
            return None, rest
        command, rest = sub, rest[1:]
    return (None if isinstance(command, click.Group) else command), rest


def test_compose_has_the_processes_of_the_design(compose):
    assert {"api", "worker", "scheduler", "migrate", "redis", "postgres"} <= set(
        compose["services"]
    )


@pytest.mark.parametrize("name", ["api", "worker", "scheduler", "migrate"])
def test_every_command_is_a_real_claims_subcommand(compose, name):
    argv = compose["services"][name]["command"]
    assert isinstance(argv, list) and argv[0] == "claims", f"{name}: {argv}"
    command, rest = resolve(argv[1:])
    assert command is not None, f"{name}: `{' '.join(argv)}` is not a claims subcommand"
    if command.name == "known":
        return
    options = {opt for p in command.params for opt in getattr(p, "opts", [])}
    for word in rest:
        if word.startswith("--"):
            assert word.split("=")[0] in options, f"{name}: {word} is not an option of {argv}"


def test_every_environment_variable_is_a_setting(compose):
    names = {s.name for s in SETTINGS}
    for service_name, svc in our_services(compose).items():
        env = svc.get("environment") or {}
        keys = env.keys() if isinstance(env, dict) else [e.split("=")[0] for e in env]
        unknown = sorted(set(keys) - names)
        assert not unknown, f"{service_name} sets {unknown}, which service.config does not read"
    assert len(our_services(compose)) >= 4


def test_health_checks_and_ordering(compose):
    services = compose["services"]
    for name in ("api", "redis", "postgres"):
        assert services[name].get("healthcheck", {}).get("test"), f"{name} has no healthcheck"
    assert "/readyz" in " ".join(services["api"]["healthcheck"]["test"])
    assert "ping" in services["redis"]["healthcheck"]["test"]
    assert "pg_isready" in services["postgres"]["healthcheck"]["test"]
    redis_cmd = services["redis"]["command"]
    assert redis_cmd[redis_cmd.index("--appendonly") + 1] == "yes"
    for name in ("api", "worker", "scheduler"):
        depends = services[name]["depends_on"]
        assert depends["migrate"]["condition"] == "service_completed_successfully"


def test_dockerfile_builds_the_one_image():
    text = DOCKERFILE.read_text()
    assert text.startswith("#") or "FROM python:3.11-slim" in text
    assert "FROM python:3.11-slim" in text
    assert "build-essential" in text  # durable-rules compiles C
    for folder in ("service", "worker", "rules"):
        assert f"COPY {folder}" in text
