"""Walk the audit chain; report the first event whose hash or link does not hold."""

from __future__ import annotations

from dataclasses import dataclass

from service.db import audit
from service.db.audit import GENESIS, audit_fields, event_hash
from service.usecases.context import Context


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    broken_id: int | None = None
    problem: str | None = None


def verify_audit(ctx: Context) -> ChainReport:
    prev = GENESIS
    checked = 0
    with ctx.unit_of_work() as session:
        for row in audit.iter_audit_chain(session):
            if row.prev_hash != prev:
                return ChainReport(
                    False,
                    checked,
                    row.id,
                    "its prev_hash does not match the event before it "
                    "(an event was deleted or inserted)",
                )
            if event_hash(row.prev_hash, audit_fields(row)) != row.hash:
                return ChainReport(
                    False, checked, row.id, "its content does not match its hash (it was edited)"
                )
            prev = row.hash
            checked += 1
    return ChainReport(True, checked)


def audit_page(ctx: Context, filters: dict[str, object], limit: int) -> dict[str, object]:
    """GET /v1/audit: events in id order with their hashes; page on after_id."""
    from service.usecases.read_models import audit_document

    with ctx.unit_of_work() as session:
        rows = audit.audit_events(session, filters, limit)
        items = [audit_document(r) | {"hash": r.hash, "prev_hash": r.prev_hash} for r in rows]
    return {"items": items, "next_after_id": items[-1]["id"] if len(items) == limit else None}
