"""`claims rules backtest|versions|show`: rule commands that read the database.

They join the analysts' `claims rules` group (service/rules/cli.py) here, outside
service/rules, so the rules package never imports the use cases.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from service.config import load
from service.db import analysis
from service.rules.cli import limits, rules
from service.rules.engine import RulesEngine, RulesetError, load_ruleset
from service.usecases import backtest as bt
from service.usecases.context import build_context
from service.usecases.rulesets import list_versions, stored_ruleset


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
    try:
        candidate = load_ruleset(candidate_dir, limits())
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
    files = {p.name: p.read_text(encoding="utf-8") for p in sorted(candidate_dir.glob("*.yaml"))}
    stored = bt.store_finished(
        ctx, files, candidate.version, first, last, report, requested_by="cli"
    )
    click.echo(f"backtest {stored} stored (GET /v1/rulesets/backtests)", err=True)
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
    for item in list_versions(build_context(load())):
        click.echo(
            f"{item['version']}  {item['rule_count']:>3} rules  "
            f"{item['first_loaded_at']}  {item['decisions']:,} decisions"
        )


@rules.command("show")
@click.argument("version")
def show(version: str) -> None:
    """Print the full text of a stored ruleset (what decided the claims naming it)."""
    found = stored_ruleset(build_context(load()), version)
    if found is None:
        raise click.ClickException(f"no stored ruleset {version}")
    for name, text in sorted(found["files"].items()):
        click.echo(f"# --- {name}\n{text}")
