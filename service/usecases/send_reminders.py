"""Chase the documents a claim waits for: a reminder on each of REMINDER_DAYS after the
request, and past ABANDON_AFTER_DAYS the claim is abandoned (abandon_stale_claim).

Driven from the database by the sweep: every reminder has a deterministic dedupe key,
so a sweep that runs twice (or on two machines) sends nothing twice, and a wiped
Redis only delays. Only claims still `pending_info` are chased: documents arriving
move the claim on, which is what cancels the remaining reminders.
"""

from __future__ import annotations

from datetime import timedelta

from service.db import claims, outbox
from service.domain.lifecycle import ClaimStatus
from service.usecases.abandon_stale_claim import abandon_stale_claim, is_stale
from service.usecases.context import Context


def send_reminders(ctx: Context) -> dict[str, int]:
    """Reminders due now, then the stale claims abandoned; counts of each."""
    now = ctx.clock.now()
    days = sorted(ctx.config.reminder_days)
    counts = {"reminders": 0, "abandoned": 0}
    with ctx.unit_of_work(read_only=True) as session:
        waiting = claims.claim_ids_with_status(session, ClaimStatus.PENDING_INFO)
    for claim_id in waiting:
        stale = False
        with ctx.unit_of_work() as session:
            claim = claims.get_claim(session, claim_id)
            decision = claims.latest_decision_of(session, claim_id)
            if claim is None or claim.status != ClaimStatus.PENDING_INFO or decision is None:
                continue
            stale = is_stale(decision, now, ctx.config.abandon_after_days)
            if not stale:
                age = now - decision.decided_at
                due = [d for d in days if age >= timedelta(days=d)]
                if due:
                    day = max(due)  # a late sweep sends the latest reminder only
                    key = f"claim:{claim_id}:decision:{decision.id}:reminder:{day}:email"
                    payload = {"claim_id": claim_id, "decision_id": decision.id, "day": day}
                    counts["reminders"] += outbox.add_once(
                        session, key, "reminder", "email", payload, now, claim_id
                    )
                    session.commit()
        if stale:
            counts["abandoned"] += abandon_stale_claim(ctx, claim_id)
    return counts
