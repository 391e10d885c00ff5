"""`python -m devtools.demo run|generate` (`make demo` runs `run`)."""

from __future__ import annotations

import os
import sys

import click

from devtools.demo.generate_cli import generate_command
from devtools.demo.ports import DEFAULT_PORT


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def demo() -> None:
    """Run the whole job on this machine with sample data (developer tooling, not shipped)."""


@demo.command("run")
@click.option("--once", is_flag=True, help="Print the decisions and what to try, stop, exit.")
@click.option("--fresh", is_flag=True, help="Delete the demo's database and letters first.")
@click.option(
    "--port",
    type=click.IntRange(1, 65535),
    default=None,
    help=f"The API's port; stop if it is taken. Default: DEMO_PORT, else {DEFAULT_PORT}, "
    "and a free port when that one is taken.",
)
def run(once: bool, fresh: bool, port: int | None) -> None:
    """Start Redis, a mail catcher, the API, a worker and the scheduler; submit sample claims."""
    from devtools.demo.run import run_demo

    env = dict(os.environ)
    preferred = port or _env_port(env) or DEFAULT_PORT
    sys.exit(run_demo(once, fresh, preferred, port is not None, env))


def _env_port(env: dict[str, str]) -> int | None:
    raw = env.get("DEMO_PORT", "").strip()
    if not raw:
        return None
    if not raw.isdigit() or not 1 <= int(raw) <= 65535:
        raise click.BadParameter(f"DEMO_PORT={raw!r} is not a port number")
    return int(raw)


demo.add_command(generate_command)
