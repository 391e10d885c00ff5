"""What to do next, printed when the demo is up: URLs, the sign-in, three commands to try,
and where the data, the letters and the logs are."""

from __future__ import annotations

import json
import os
import secrets
import shlex
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from devtools.demo.bootstrap import PASSWORD
from devtools.demo.place import Place

MARK = "press Ctrl-C to stop"  # the last line while the demo keeps running


def try_claim(base: str, key: str) -> str:
    """A curl command submitting one more claim (a fresh external_ref each run)."""
    loss = (datetime.now(UTC).date() - timedelta(days=2)).isoformat()
    body = {
        "external_ref": f"TRY-{secrets.token_hex(3)}",
        "policy_number": "DEV-1001",
        "claim_type": "device_damage",
        "date_of_loss": loss,
        "amount": "180.00",
        "currency": "USD",
        "description": "Dropped phone, cracked screen",
        "claimant": {"name": "Ada Example", "email": "ada@example.com", "preferred_language": "en"},
        "documents": [
            {"type": "purchase_receipt", "ref": "s3://bucket/r1"},
            {"type": "photos", "ref": "s3://bucket/p1"},
        ],
    }
    return (
        f"curl -s -X POST {base}/v1/claims -H 'Authorization: Bearer {key}' "
        f"-H 'Content-Type: application/json' -d {shlex.quote(json.dumps(body))}"
    )


def print_ending(base: str, key: str, place: Place, once: bool) -> None:
    here = _relative(place.instance)
    database = _relative(place.sqlite_file) if place.sqlite_file else place.describe_database()
    claims = _claims_cli()
    lines = [
        "",
        f"  API          {base}   (OpenAPI {base}/openapi.json, health {base}/readyz)",
        f"  Console      {base}/console/   sign in: supervisor / {PASSWORD}",
        "               (also analyst and admin, same password)",
        f"  Intake key   {key}",
        "",
        f"  Try, in another terminal in {Path.cwd()}:",
        "    1. Submit a claim (the answer is its decision):",
        f"       {try_claim(base, key)}",
        f"    2. Check the rules:  {claims} rules check && {claims} rules test",
        f"    3. Open the queue:   {base}/console/queue   (sign in as supervisor)",
        "",
        f"  Data         {database}   (`claims …` here use it too;",
        "               it stays: `make demo ARGS=--fresh` starts from nothing)",
        f"  Letters      {here}/demo/mail (every message sent, a Maildir); in the console:",
        "               each claim's Messages, and /console/messages for admins",
        f"  Logs         {here}/demo/logs/{{api,worker,scheduler,redis,mail}}.log",
        f"  Settings     {here}/demo/env (this demo's REDIS_URL and SMTP_*, for `claims worker`)",
        "",
    ]
    print("\n".join(lines))
    if once:
        print("  (--once: everything stops now; the data stays for the next run)")
    else:
        print(f"  The service stays up; {MARK} (the data stays).", flush=True)


def _relative(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _claims_cli() -> str:
    """How to call `claims` from this folder: bare when it is on PATH, else by its path."""
    beside = Path(sys.executable).parent / "claims"
    on_path = any(
        (Path(p) / "claims").resolve() == beside.resolve() for p in os.get_exec_path() if p
    )
    return "claims" if on_path else _relative(beside)
