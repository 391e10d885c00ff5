"""`claims rules check|test|diff`: the analysts' tools (no database; see service/rulesets_cli.py).

Every limit of service/rules/limits.py holds here too (set by the same environment
variables as the service), so a file the service would refuse fails `check` the same way;
`check` also compiles the folder in the same budgeted child process as the server
(RULES_COMPILE_SECONDS, RULES_COMPILE_MEMORY_MB).
"""

from __future__ import annotations

import os
from pathlib import Path

import click

import service
from service.config import load
from service.rules.checker import check_directory
from service.rules.limits import Limits


def limits() -> Limits:
    """The rule-loading limits of the environment (RULES_MAX_*), as the service has them."""
    return Limits.from_config(load())


def default_dir() -> Path:
    shipped = Path(service.__file__).resolve().parents[1] / "rules"
    return Path(os.environ.get("RULES_DIR") or shipped)


_DIR = click.argument("directory", required=False, type=click.Path(path_type=Path))


@click.group("rules")
def rules() -> None:
    """Check, test and compare rule files."""


@rules.command("check")
@_DIR
def check(directory: Path | None) -> None:
    """Report every problem in the rule files as file:line:column: message."""
    directory = directory or default_dir()
    budget = limits()
    result = check_directory(directory, budget)
    if not result.errors:
        from service.rules import sandbox
        from service.rules.compiler import compile_split

        result.problems.extend(compile_split(result.rules)[2])
        # the server's time and memory budget (RULES_COMPILE_*): what it would refuse fails here
        result.problems.extend(sandbox.verify(result.files, budget, str(directory)))
    for problem in result.problems:
        click.echo(f"{directory}/{problem}" if problem.file != str(directory) else str(problem))
    if result.errors:
        raise SystemExit(1)
    click.echo(f"ok: {len(result.rules)} rules in {len(result.files)} files")


@rules.command("test")
@_DIR
def test(directory: Path | None) -> None:
    """Run the test cases in DIR/tests and report pass/fail and rule coverage."""
    from service.rules.engine import RulesetError, load_ruleset
    from service.rules.testing import run_all

    directory = directory or default_dir()
    try:
        ruleset = load_ruleset(directory, limits())
    except RulesetError as exc:
        click.echo(str(exc))
        raise SystemExit(1) from exc
    report = run_all(ruleset, directory / "tests")
    for problem in report.problems:
        click.echo(f"ERROR {problem}")
    for result in report.results:
        mark = "PASS" if result.passed else "FAIL"
        click.echo(f"{mark} {result.case.file}:{result.case.line} {result.case.name}")
        for failure in result.failures:
            click.echo(f"       {failure}")
    passed = sum(r.passed for r in report.results)
    click.echo(f"\n{passed}/{len(report.results)} cases passed")
    if report.uncovered:
        click.echo("rules no case fires: " + ", ".join(report.uncovered))
    else:
        click.echo(f"every rule fires in at least one case ({len(ruleset.rules)} rules)")
    if not report.ok:
        raise SystemExit(1)


@rules.command("diff")
@click.argument("old_dir", type=click.Path(path_type=Path))
@click.argument("new_dir", type=click.Path(path_type=Path))
def diff(old_dir: Path, new_dir: Path) -> None:
    """List rules added, removed or changed between two rule folders."""
    old, new = check_directory(old_dir, limits()), check_directory(new_dir, limits())
    for label, result in (("old", old), ("new", new)):
        for problem in result.errors:
            click.echo(f"{label}: {problem}")
    before = {r.id: r for r in old.rules}
    after = {r.id: r for r in new.rules}
    for rule_id in sorted(after.keys() - before.keys()):
        added = after[rule_id]
        click.echo(f"+ {rule_id}  ({added.file}:{added.line}) {added.description}")
    for rule_id in sorted(before.keys() - after.keys()):
        click.echo(f"- {rule_id}  ({before[rule_id].file}:{before[rule_id].line})")
    for rule_id in sorted(before.keys() & after.keys()):
        changes = _changes(before[rule_id], after[rule_id])
        if changes:
            where = f"{after[rule_id].file}:{after[rule_id].line}"
            click.echo(f"~ {rule_id}  ({where}) " + "; ".join(changes))
    if old.precedence != new.precedence:
        click.echo(f"~ precedence: {list(old.precedence)} -> {list(new.precedence)}")
    if old.required_documents != new.required_documents:
        click.echo("~ required_documents changed")


def _changes(a: object, b: object) -> list[str]:
    from service.rules.compiler import rule_branches

    fields = ("description", "owner", "action", "code", "carc", "message", "valid_from", "valid_to")
    out = [
        f"{f}: {getattr(a, f)!r} -> {getattr(b, f)!r}"
        for f in fields
        if getattr(a, f) != getattr(b, f)
    ]
    if set(rule_branches(a)) != set(rule_branches(b)):  # type: ignore[arg-type]
        out.append("conditions changed")
    return out
