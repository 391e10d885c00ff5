"""How the console shows times and facts: times in the viewer's time zone to the minute,
facts as rows with their meaning, unit and currency (never a Python repr).

The viewer's zone: the `console_tz` cookie (set from the page's "Times in" form, or by
console.js from the browser's own zone on the first visit), else DEFAULT_TIME_ZONE.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from service.domain.calendar import time_zones
from service.domain.facts import FACTS, flatten

TZ_COOKIE = "console_tz"
_ZONES: list[str] = []


def zones() -> list[str]:
    """IANA zone names the viewer may choose from (Area/Location and UTC: the zones a
    policy may use, service/domain/calendar.py, without the legacy links), sorted."""
    if not _ZONES:
        _ZONES.extend(sorted(z for z in time_zones() if z == "UTC" or _is_place(z)))
    return _ZONES


def _is_place(name: str) -> bool:
    area = name.split("/", 1)[0]
    return "/" in name and area not in (
        "Etc",
        "SystemV",
        "US",
        "Canada",
        "Mexico",
        "Brazil",
        "Chile",
    )


def zone_or_none(name: str | None) -> ZoneInfo | None:
    if not name or len(name) > 64 or name not in zones():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def local_time(value: str | datetime | None, zone: ZoneInfo) -> str:
    """'2026-06-15 11:00 CEST' for an ISO time or an aware datetime; '' for None."""
    if value is None or value == "":
        return ""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


def _money(value: Any, currency: str | None) -> str:
    return f"{value} {currency}" if currency else str(value)


def _span(value: dict[str, Any]) -> str:
    parts = []
    for unit in ("years", "months", "days"):
        n = value.get(unit)
        if n:
            parts.append(f"{n} {unit[:-1] if n == 1 else unit}")
    total = value.get("total_days")
    shown = ", ".join(parts) or "0 days"
    return f"{shown} ({total} days in all)" if total is not None else shown


def fact_rows(facts: dict[str, Any] | None, claim_currency: str) -> list[dict[str, str]]:
    """[{name, meaning, value}] for a decision's stored facts, in catalogue order, then
    any fact the catalogue does not know. Money carries its currency (the claim's for
    claim.*, the policy's for coverage and aggregate amounts), days say days, yes/no
    for booleans, lists as words ('none' when empty), spans in calendar units."""
    if not facts:
        return []
    spans = {k: v for k, v in facts.items() if FACTS.get(k) and FACTS[k].type == "duration"}
    flat = flatten({k: v for k, v in facts.items() if k not in spans})
    flat.update(spans)
    policy_currency = flat.get("policy.currency") or claim_currency
    order = [name for name in FACTS if name in flat] + sorted(n for n in flat if n not in FACTS)
    rows = []
    for name in order:
        value = flat[name]
        fact = FACTS.get(name)
        kind = fact.type if fact else ("boolean" if isinstance(value, bool) else "")
        if value is None:
            shown = "—"
        elif kind == "money":
            shown = _money(value, claim_currency if name.startswith("claim.") else policy_currency)
        elif kind == "boolean" or isinstance(value, bool):
            shown = "yes" if value else "no"
        elif kind == "duration" and isinstance(value, dict):
            shown = _span(value)
        elif kind == "list" or isinstance(value, list):
            shown = ", ".join(str(v) for v in value) or "none"
        elif kind == "integer" and "days" in name:
            shown = f"{value} day" if value == 1 else f"{value} days"
        elif isinstance(value, dict):
            shown = ", ".join(f"{k}: {v}" for k, v in value.items())
        else:
            shown = str(value)
        rows.append({"name": name, "meaning": fact.description if fact else "", "value": shown})
    return rows


# Audit details that are for machines (hash chains, ids, rule set digests), not readers.
_HIDDEN = ("ruleset_version", "decision_id", "appeal_id", "request_id", "hash", "prev_hash")
_ACTIONS = {
    "claim.assigned": "assigned",
    "claim.unassigned": "unassigned",
    "claim.decided": "decided",
    "claim.documents_added": "documents added",
    "claim.appealed": "appealed",
    "claim.appeal_upheld": "appeal upheld",
    "claim.appeal_overturned": "appeal overturned",
}


def change_words(event: dict[str, Any], currency: str) -> str:
    """One history event in plain words: 'assigned (assignee: bob)', 'decided (status:
    approved, payable amount: 200.00 USD, reason codes: LATE_REPORTING)'; hashes, ids
    and rule set digests left out, lists as words, money with its currency."""
    action = str(event.get("action") or "")
    words = _ACTIONS.get(action) or action.removeprefix("claim.").replace("_", " ").replace(
        ".", " "
    )
    details = []
    for key, value in (event.get("after") or {}).items():
        if key in _HIDDEN or key.endswith(("_id", "_hash")) or isinstance(value, dict):
            continue
        if value is None or value == "" or value == []:
            shown = "none"
        elif isinstance(value, bool):
            shown = "yes" if value else "no"
        elif isinstance(value, list):
            shown = ", ".join(str(v) for v in value)
        elif "amount" in key:
            shown = f"{value} {currency}"
        else:
            shown = str(value)
        details.append(f"{key.replace('_', ' ')}: {shown}")
    return f"{words} ({', '.join(details)})" if details else words
