"""Shadow (champion/challenger): a candidate ruleset decides every live claim beside the
active one; what it would have decided is recorded, never used.

The shadow sees the same facts as the active ruleset (computed with the active
ruleset's required documents), so a disagreement is about the rules alone.
Anything that goes wrong in the shadow is logged and swallowed: the live
decision, its transaction and its response are never affected.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from typing import Any

from service.db import analysis
from service.db.session import Session
from service.db.tables import ClaimRow, ShadowResultRow
from service.domain.decision import Decision
from service.domain.money import fmt
from service.rules.engine import adjudicate
from service.usecases.rulesets import ensure_ruleset_stored

log = logging.getLogger(__name__)
RECENT = 20


def record_shadow(
    ctx: Any, session: Session, claim: ClaimRow, facts: Mapping[str, Any], decision: Decision
) -> ShadowResultRow | None:
    """Decide the claim with the shadow ruleset and store both answers (in a savepoint)."""
    if ctx.shadow is None:
        return None
    try:
        engine = ctx.shadow.engine()
        # a copy: a claim with line items has its line facts and amounts filled in from
        # the shadow ruleset's fee schedule, which must not touch the live decision's
        shadow = adjudicate(engine, copy.deepcopy(dict(facts)))
        active_codes = sorted(r.code for r in decision.reasons)
        shadow_codes = sorted(r.code for r in shadow.reasons)
        agree = (decision.outcome, decision.payable_amount, active_codes) == (
            shadow.outcome,
            shadow.payable_amount,
            shadow_codes,
        )
        with session.begin_nested():
            ensure_ruleset_stored(session, ctx.shadow, shadow.ruleset_version)
            row = analysis.add_shadow_result(
                session,
                claim_id=claim.id,
                active_version=decision.ruleset_version,
                shadow_version=shadow.ruleset_version,
                active_outcome=decision.outcome,
                shadow_outcome=shadow.outcome,
                active_payable=decision.payable_amount,
                shadow_payable=shadow.payable_amount,
                active_reasons=active_codes,
                shadow_reasons=shadow_codes,
                agree=agree,
                at=ctx.clock.now(),
            )
        return row
    except Exception:  # noqa: BLE001 - the shadow must never fail a live claim
        log.exception(
            "shadow evaluation failed; live decision unaffected", extra={"claim_id": claim.id}
        )
        return None


def shadow_report(ctx: Any) -> dict[str, Any]:
    """Evaluated, disagreements, transition matrix (active -> shadow), recent disagreements."""
    status = None
    if ctx.shadow is not None:
        try:
            status = ctx.shadow.status()
        except Exception as exc:  # noqa: BLE001 - a broken shadow folder is reported, not raised
            status = {"last_error": str(exc)}
    with ctx.unit_of_work() as session:
        summary = analysis.shadow_summary(session, RECENT)
        matrix: dict[str, dict[str, int]] = {}
        for active, shadow, count in summary["pairs"]:
            matrix.setdefault(active, {})[shadow] = count
        return {
            "enabled": ctx.shadow is not None,
            "shadow": status,
            "evaluated": summary["evaluated"],
            "disagreements": summary["disagreements"],
            "transitions": matrix,
            "recent_disagreements": [_row(r) for r in summary["recent"]],
        }


def _money(value: Any) -> str | None:
    """Without the claim's currency at hand: at least two decimals, three if it has them."""
    return fmt(value)


def _row(row: ShadowResultRow) -> dict[str, Any]:
    money = _money
    return {
        "claim_id": row.claim_id,
        "at": row.at.isoformat(),
        "active_version": row.active_version,
        "shadow_version": row.shadow_version,
        "active_outcome": row.active_outcome,
        "shadow_outcome": row.shadow_outcome,
        "active_payable": money(row.active_payable),
        "shadow_payable": money(row.shadow_payable),
        "active_reasons": row.active_reasons,
        "shadow_reasons": row.shadow_reasons,
    }
