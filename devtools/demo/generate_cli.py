"""`python -m devtools.demo generate`: synthetic policies and claims, to files or an API."""

from __future__ import annotations

import http.client
import json
import os
import sys
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import click


@click.command("generate")
@click.option("--policies", "n_policies", default=200, show_default=True, type=int)
@click.option("--claims", "n_claims", default=1000, show_default=True, type=int)
@click.option("--seed", default=1, show_default=True, type=int)
@click.option(
    "--today",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    default=None,
    help="Date the data is generated relative to (default: today, UTC).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Write policies.json and claims.jsonl here.",
)
@click.option(
    "--submit",
    "submit_url",
    default=None,
    metavar="URL",
    help="PUT the policies and POST the claims to the API at URL.",
)
@click.option(
    "--api-key",
    default=lambda: os.environ.get("CLAIMS_API_KEY", ""),
    help="Bearer key for --submit (default: $CLAIMS_API_KEY).",
)
def generate_command(
    n_policies: int,
    n_claims: int,
    seed: int,
    today: datetime | None,
    out_dir: Path | None,
    submit_url: str | None,
    api_key: str,
) -> None:
    """Generate deterministic synthetic policies and claims (same seed, same data)."""
    from devtools.demo.generate import generate

    if n_policies < 1:
        raise click.BadParameter("at least one policy", param_hint="--policies")
    day = today.date() if today else datetime.now(UTC).date()
    policies, claims = generate(n_policies, n_claims, seed, day)
    if out_dir is None and submit_url is None:
        out_dir = Path(".")
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / "policies.json").write_text(json.dumps(policies, indent=1) + "\n")
        with (out_dir / "claims.jsonl").open("w") as handle:
            for body in claims:
                handle.write(json.dumps(body, separators=(",", ":")) + "\n")
        click.echo(
            f"wrote {len(policies)} policies to {out_dir / 'policies.json'} and "
            f"{len(claims)} claims to {out_dir / 'claims.jsonl'} (seed {seed}, today {day})"
        )
    if submit_url is not None:
        statuses, outcomes = submit(submit_url, policies, claims, api_key)
        click.echo(
            f"submitted to {submit_url}: "
            + ", ".join(f"{code}: {n}" for code, n in sorted(statuses.items()))
        )
        click.echo("outcomes: " + ", ".join(f"{k}: {v}" for k, v in outcomes.most_common()))
        if any(code >= 500 for code in statuses):
            sys.exit(1)


def submit(
    url: str, policies: list[dict[str, Any]], claims: list[dict[str, Any]], api_key: str = ""
) -> tuple[Counter[int], Counter[str]]:
    """PUT every policy and POST every claim over one keep-alive connection."""
    parts = urlsplit(url)
    base = parts.path.rstrip("/")
    https = parts.scheme == "https"
    conn_class = http.client.HTTPSConnection if https else http.client.HTTPConnection
    conn = conn_class(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    statuses: Counter[int] = Counter()
    outcomes: Counter[str] = Counter()

    def send(method: str, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        conn.request(method, base + path, body=json.dumps(body), headers=headers)
        response = conn.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, None

    try:
        for body in policies:
            status, _ = send(
                "PUT",
                f"/v1/policies/{body['number']}",
                {k: v for k, v in body.items() if k != "number"},
            )
            if status not in (200, 201):
                raise click.ClickException(f"PUT policy {body['number']} answered {status}")
        for body in claims:
            status, document = send("POST", "/v1/claims", body)
            statuses[status] += 1
            if status == 201 and document and document.get("decision"):
                outcomes[document["decision"]["outcome"]] += 1
    finally:
        conn.close()
    return statuses, outcomes
