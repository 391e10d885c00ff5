"""The statutory-clock sweep: warn the supervisors' lead as a deadline nears and when it
is missed, and send claimants a status letter every REG_STATUS_EVERY_DAYS while their
claim is open. Each message once (deterministic dedupe keys); a late sweep sends only
the latest stage or letter. The clocks themselves: service/domain/statutory.py.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from service.config import Config
from service.db import claims, outbox
from service.db.session import Session
from service.db.tables import ClaimRow
from service.domain.statutory import (
    LABELS,
    OPEN,
    ClockState,
    Limits,
    claim_clocks,
    received_at,
    status_letter_due,
)
from service.usecases.context import Context

log = logging.getLogger(__name__)


def limits(config: Config) -> Limits:
    return Limits(config.reg_ack_days, config.reg_decide_days, config.reg_warn_at)


def clocks_of(
    claim: ClaimRow, acknowledged: bool, now: datetime, config: Config
) -> list[ClockState]:
    start = received_at(claim.reported_at, claim.created_at)
    return claim_clocks(claim.id, claim.status, start, acknowledged, now, limits(config))


def near_or_past(session: Session, config: Config, now: datetime) -> list[dict[str, Any]]:
    """Every open claim's clock at or past the warning point, most urgent first (digest),
    each with the claim's `external_ref` (what people call the claim)."""
    acked = outbox.acknowledged_claim_ids(session)
    states = [
        (s, c.external_ref)
        for c in claims.claims_with_status(session, *OPEN)
        for s in clocks_of(c, c.id in acked, now, config)
        if s.stage != "ok"
    ]
    states.sort(key=lambda pair: (pair[0].due_at, pair[0].claim_id, pair[0].clock))
    return [dict(s.as_dict(), external_ref=ref) for s, ref in states]


def run_statutory_clocks(ctx: Context) -> dict[str, int]:
    """Warnings to the supervisors' lead and status letters to claimants, each once."""
    now = ctx.clock.now()
    counts = {"warnings": 0, "status_letters": 0}
    with ctx.unit_of_work(read_only=True) as session:
        claim_ids = claims.claim_ids_with_status(session, *OPEN)
    for claim_id in claim_ids:
        with ctx.unit_of_work() as session:
            claim = claims.get_claim(session, claim_id)
            if claim is None or claim.status not in OPEN:
                continue
            acked = claim_id in outbox.acknowledged_claim_ids(session, [claim_id])
            for state in clocks_of(claim, acked, now, ctx.config):
                counts["warnings"] += _warn(session, ctx.config, state, now)
            counts["status_letters"] += _status_letter(session, claim, ctx.config, now)
            session.commit()
    return counts


def _warn(session: Session, config: Config, state: ClockState, now: datetime) -> int:
    if state.stage == "ok":
        return 0
    if not config.supervisor_lead_email:
        log.warning(
            "SUPERVISOR_LEAD_EMAIL is empty: %s clock of %s is %s",
            state.clock,
            state.claim_id,
            state.stage,
        )
        return 0
    payload = dict(state.as_dict(), clock_label=LABELS[state.clock])
    key = f"claim:{state.claim_id}:reg:{state.clock}:{state.stage}:email"
    if not outbox.add_once(session, key, "regulatory_clock", "email", payload, now, state.claim_id):
        return 0
    log.warning(
        "claim %s: statutory clock %s %s (due %s)",
        state.claim_id,
        state.clock,
        state.stage,
        state.due_at.isoformat(),
    )
    return 1


def _status_letter(session: Session, claim: ClaimRow, config: Config, now: datetime) -> int:
    every = config.reg_status_every_days
    if not (claim.claimant or {}).get("email"):
        return 0
    letter = status_letter_due(received_at(claim.reported_at, claim.created_at), now, every)
    if letter < 1:
        return 0
    payload = {
        "claim_id": claim.id,
        "letter": letter,
        "days_open": letter * every,
        "every_days": every,
    }
    key = f"claim:{claim.id}:status:{letter}:email"  # a late sweep sends the latest only
    return int(outbox.add_once(session, key, "status_update", "email", payload, now, claim.id))
