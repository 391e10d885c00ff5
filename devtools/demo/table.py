"""The demo's decisions table: one row per claim, one line per extra reason."""

from __future__ import annotations

from typing import Any

from devtools.demo.samples import SampleClaim

HEADER = ("REF", "POLICY", "CLAIM TYPE", "OUTCOME", "PAYABLE", "REASONS")
WIDTHS = (8, 9, 21, 13, 8)
REASON_WIDTH = 70


def reason_text(reason: dict[str, Any], missing: list[str] | None = None) -> str:
    code = str(reason.get("code") or "")
    carc = reason.get("carc")
    label = f"{code} (CARC {carc})" if carc not in (None, "") else code
    message = str(reason.get("message") or "")
    if reason.get("action") == "request_info" and missing:
        message = "missing " + ", ".join(missing)
    return f"{label}: {message}" if message else label


def _fit(text: str, width: int = REASON_WIDTH) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def row_lines(sample: SampleClaim, status: int, body: dict[str, Any]) -> tuple[list[str], bool]:
    """Lines for one claim and whether the outcome matched the sample's expectation."""
    p = sample.payload
    decision = body.get("decision") or {}
    if status != 201:
        outcome, payable = f"HTTP {status}", ""
        detail = body.get("detail") or body.get("title") or "request failed"
        reasons = [str(detail)]
        errors = body.get("errors")
        if errors:
            reasons.append(str(errors))
    else:
        outcome = str(decision.get("outcome", "?"))
        payable = str(decision.get("payable_amount") or "-")
        missing = [str(m) for m in decision.get("missing_documents") or []]
        reasons = [
            reason_text(r, missing)
            for r in decision.get("reasons") or []
            # the API keeps every fired rule; the table shows what shaped this outcome
            if outcome == "approved" or r.get("action") != "approve"
        ]
    matched = outcome == sample.expect
    mark = " " if matched else "!"
    cells = (p["external_ref"], p["policy_number"], p["claim_type"], outcome + mark, payable)
    wrapped = [_fit(reason) for reason in reasons or ["-"]]
    first = "  ".join(c.ljust(w) for c, w in zip(cells, WIDTHS, strict=True))
    pad = " " * len(first)
    lines = [f"{first}  {wrapped[0]}"] + [f"{pad}  {extra}" for extra in wrapped[1:]]
    if not matched:
        lines.append(f"{pad}  ! expected {sample.expect}: {sample.shows}")
    return lines, matched


def print_table(rows: list[tuple[SampleClaim, int, dict[str, Any]]]) -> int:
    """Print the table; return how many outcomes differ from the expectations."""
    head = "  ".join(h.ljust(w) for h, w in zip(HEADER, (*WIDTHS, 0), strict=True))
    print()
    print(head.rstrip())
    print("-" * (sum(WIDTHS) + 2 * len(WIDTHS) + REASON_WIDTH))
    mismatches = 0
    counts: dict[str, int] = {}
    for sample, status, body in rows:
        lines, matched = row_lines(sample, status, body)
        mismatches += not matched
        outcome = (body.get("decision") or {}).get("outcome", f"HTTP {status}")
        counts[outcome] = counts.get(outcome, 0) + 1
        print("\n".join(lines))
    print("-" * (sum(WIDTHS) + 2 * len(WIDTHS) + REASON_WIDTH))
    print("  ".join(f"{k}: {v}" for k, v in sorted(counts.items())))
    return mismatches
