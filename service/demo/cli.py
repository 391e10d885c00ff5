"""`claims demo run [--once]`."""

from __future__ import annotations

import sys

import click


@click.group()
def demo() -> None:
    """Run the whole job on this machine with sample data."""


@demo.command("run")
@click.option("--once", is_flag=True, help="Print the decisions table, stop everything, exit.")
def run(once: bool) -> None:
    """Start Redis (if needed), the API, a worker and the scheduler; submit sample claims."""
    from service.demo.run import run_demo

    sys.exit(run_demo(once))


def _attach_generate() -> None:
    from service.demo.generate_cli import generate_command

    demo.add_command(generate_command)


_attach_generate()
