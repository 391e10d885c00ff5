"""Staff reads of a claim are audited: who looked at which claim, through what."""

from __future__ import annotations

from service.db import audit
from service.usecases.context import Context


def record_claim_view(
    ctx: Context, claim_id: str, *, actor: str, via: str, role: str, source: str | None
) -> None:
    with ctx.unit_of_work() as session:
        audit.append_audit(
            session,
            actor=actor,
            action="claim.viewed",
            at=ctx.clock.now(),
            claim_id=claim_id,
            source=source,
            after={"via": via, "role": role},
        )
        session.commit()
