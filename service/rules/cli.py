"""`claims rules check|test|diff`: the analysts' tools."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

import service
from service.rules.checker import check_directory


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
    result = check_directory(directory)
    if not result.errors:
        from service.rules.compiler import compile_rules

        result.problems.extend(compile_rules(result.rules)[1])
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
        ruleset = load_ruleset(directory)
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
    old, new = check_directory(old_dir), check_directory(new_dir)
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


# --- backtest and stored versions (these read the database of DATABASE_URL) -----------


@rules.command("backtest")
@click.argument("candidate_dir", type=click.Path(path_type=Path, file_okay=False))
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), help="Date of loss from (inclusive).")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), help="Date of loss to (inclusive).")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["table", "csv", "json"]),
    default="table",
    show_default=True,
    help="csv/json for a spreadsheet or a script.",
)
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Write the report to this file instead of the terminal.",
)
def backtest(candidate_dir: Path, since: Any, until: Any, fmt: str, out: Path | None) -> None:
    """Replay stored claims through the rules in CANDIDATE_DIR and report what would change."""
    from service.config import load
    from service.db import analysis
    from service.rules.engine import RulesEngine, RulesetError, load_ruleset
    from service.usecases import backtest as bt
    from service.usecases.context import build_context

    try:
        candidate = load_ruleset(candidate_dir)
    except RulesetError as exc:
        click.echo(str(exc), err=True)
        raise SystemExit(1) from exc
    ctx = build_context(load())
    first, last = (since.date() if since else None), (until.date() if until else None)
    with ctx.unit_of_work() as session:
        total = analysis.count_replayable(session, first, last)
    if total == 0:
        click.echo("no stored claims in that range: nothing to replay")
        return
    engine = RulesEngine(candidate)
    with click.progressbar(
        length=total, label=f"replaying {total:,} claims", file=sys.stderr
    ) as bar:
        report = bt.replay(engine, analysis.stored_rows(ctx.unit_of_work, first, last), bar.update)
    text = {"table": _table, "csv": _csv, "json": _json}[fmt](report.to_json())
    if out is not None:
        out.write_text(text, encoding="utf-8")
        click.echo(f"report written to {out} ({report.changed:,} of {report.total:,} changed)")
    else:
        click.echo(text, nl=False)


def _table(report: dict[str, Any]) -> str:
    lines = [
        f"claims replayed   {report['total']:>10,}",
        f"decisions changed {report['changed']:>10,}",
        f"errors            {report['errors']:>10,}",
        f"total payable     {report['payable_before']:>14} -> {report['payable_after']}"
        f"  (change {report['payable_change']})",
        "",
        "transitions (stored -> candidate):",
    ]
    for old, row in sorted(report["transitions"].items()):
        for new, count in sorted(row.items()):
            mark = "" if old == new else "  *"
            lines.append(f"  {old:>13} -> {new:<13} {count:>8,}{mark}")
    if report["changed_claims"]:
        lines += ["", f"changed claims ({report['changed_claims_listed']:,} listed):"]
        for c in report["changed_claims"]:
            lines.append(
                f"  {c['claim_id']}  {c['old_outcome']} {c['old_payable'] or '-'} "
                f"[{','.join(c['old_reasons'])}] -> {c['new_outcome']} {c['new_payable'] or '-'} "
                f"[{','.join(c['new_reasons'])}]"
            )
    return "\n".join(lines) + "\n"


def _csv(report: dict[str, Any]) -> str:
    import io

    from service.csv_export import csv_writer

    buffer = io.StringIO()
    writer = csv_writer(buffer)  # formula-safe cells
    writer.writerow(
        [
            "claim_id",
            "old_outcome",
            "new_outcome",
            "old_payable",
            "new_payable",
            "old_reasons",
            "new_reasons",
        ]
    )
    for c in report["changed_claims"]:
        writer.writerow(
            [
                c["claim_id"],
                c["old_outcome"],
                c["new_outcome"],
                c["old_payable"],
                c["new_payable"],
                " ".join(c["old_reasons"]),
                " ".join(c["new_reasons"]),
            ]
        )
    return buffer.getvalue()


def _json(report: dict[str, Any]) -> str:
    import json

    return json.dumps(report, indent=2) + "\n"


@rules.command("versions")
def versions() -> None:
    """Stored rulesets, newest first: version, rules, first loaded, decisions made."""
    from service.config import load
    from service.usecases.context import build_context
    from service.usecases.rulesets import list_versions

    for item in list_versions(build_context(load())):
        click.echo(
            f"{item['version']}  {item['rule_count']:>3} rules  "
            f"{item['first_loaded_at']}  {item['decisions']:,} decisions"
        )


@rules.command("show")
@click.argument("version")
def show(version: str) -> None:
    """Print the full text of a stored ruleset (what decided the claims naming it)."""
    from service.config import load
    from service.usecases.context import build_context
    from service.usecases.rulesets import stored_ruleset

    found = stored_ruleset(build_context(load()), version)
    if found is None:
        raise click.ClickException(f"no stored ruleset {version}")
    for name, text in sorted(found["files"].items()):
        click.echo(f"# --- {name}\n{text}")
