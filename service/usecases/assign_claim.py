"""Take an escalated claim (assign to me) or give it back (unassign)."""

from __future__ import annotations

from typing import Any

from service.db import audit, claims
from service.domain.lifecycle import QUEUED
from service.usecases.context import Context
from service.usecases.decide_claim import DecisionRefused


def assign_claim(
    ctx: Context,
    claim_id: str,
    assignee: str | None,
    *,
    actor: str,
    force: bool = False,
    source: str | None = None,
) -> dict[str, Any]:
    """Set or clear the assignee; someone else's claim is refused unless `force` (admin)."""
    now = ctx.clock.now()
    with ctx.unit_of_work() as session:
        claim = claims.claim_for_update(session, claim_id, None)
        if claim is None:
            raise DecisionRefused(404, "not_found", "No claim with this id.")
        if claim.status not in QUEUED:
            raise DecisionRefused(409, "not_in_queue", f"The claim is {claim.status}, not queued.")
        current = claim.assignee
        if current and current not in (assignee, actor) and not force:
            raise DecisionRefused(
                409, "assigned_to_other", f"The claim is assigned to {current}.", assignee=current
            )
        if current != assignee:
            claim.assignee = assignee
            claim.version += 1
            claim.updated_at = now
            audit.append_audit(
                session,
                actor=actor,
                action="claim.assigned" if assignee else "claim.unassigned",
                at=now,
                claim_id=claim.id,
                source=source,
                before={"assignee": current},
                after={"assignee": assignee},
            )
        result = {"id": claim.id, "assignee": claim.assignee, "version": claim.version}
        session.commit()
    return result
