"""A claim's lifecycle: its statuses, the events that move it, and the one table of
allowed moves. Pure: every use case that changes a claim's status asks `transition`.

    received      --rules_*-->            approved | rejected | escalated | pending_info
    pending_info  --rules_*-->            approved | rejected | escalated | pending_info
                  --no_reply_escalate-->  escalated   (day 10 without documents)
                  --no_reply_close-->     closed      (day 10, ABANDON_ACTION=close)
    escalated     --supervisor_*-->       approved | rejected | pending_info
    approved, rejected --appeal-->        appealed
    appealed      --uphold-->             upheld      (the earlier decision stands)
                  --overturn-->           overturned  (a new decision in the claimant's favour)
    upheld, overturned, closed: final

`rules_*` is a decision of the rules (at intake, or when requested documents arrive);
`supervisor_*` a person's decision. A move that is not in the table raises
IllegalTransition (the API answers 409 with the current status).
"""

from __future__ import annotations

from enum import StrEnum


class ClaimStatus(StrEnum):
    RECEIVED = "received"
    APPROVED = "approved"
    REJECTED = "rejected"
    ESCALATED = "escalated"
    PENDING_INFO = "pending_info"
    APPEALED = "appealed"
    UPHELD = "upheld"
    OVERTURNED = "overturned"
    CLOSED = "closed"


class ClaimEvent(StrEnum):
    RULES_APPROVE = "rules_approve"
    RULES_REJECT = "rules_reject"
    RULES_ESCALATE = "rules_escalate"
    RULES_REQUEST_INFO = "rules_request_info"
    SUPERVISOR_APPROVE = "supervisor_approve"
    SUPERVISOR_REJECT = "supervisor_reject"
    SUPERVISOR_REQUEST_INFO = "supervisor_request_info"
    NO_REPLY_ESCALATE = "no_reply_escalate"
    NO_REPLY_CLOSE = "no_reply_close"
    APPEAL = "appeal"
    UPHOLD = "uphold"
    OVERTURN = "overturn"


S, E = ClaimStatus, ClaimEvent
_RULES = {
    E.RULES_APPROVE: S.APPROVED,
    E.RULES_REJECT: S.REJECTED,
    E.RULES_ESCALATE: S.ESCALATED,
    E.RULES_REQUEST_INFO: S.PENDING_INFO,
}

TRANSITIONS: dict[ClaimStatus, dict[ClaimEvent, ClaimStatus]] = {
    S.RECEIVED: dict(_RULES),
    S.PENDING_INFO: {**_RULES, E.NO_REPLY_ESCALATE: S.ESCALATED, E.NO_REPLY_CLOSE: S.CLOSED},
    S.ESCALATED: {
        E.SUPERVISOR_APPROVE: S.APPROVED,
        E.SUPERVISOR_REJECT: S.REJECTED,
        E.SUPERVISOR_REQUEST_INFO: S.PENDING_INFO,
    },
    S.APPROVED: {E.APPEAL: S.APPEALED},
    S.REJECTED: {E.APPEAL: S.APPEALED},
    S.APPEALED: {E.UPHOLD: S.UPHELD, E.OVERTURN: S.OVERTURNED},
    S.UPHELD: {},
    S.OVERTURNED: {},
    S.CLOSED: {},
}

# What each status means to the rest of the service.
DECIDED = (S.APPROVED, S.REJECTED)  # a first or supervisor's decision, appealable
QUEUED = (S.ESCALATED, S.APPEALED)  # waiting for a supervisor
OPEN = (S.RECEIVED, S.PENDING_INFO, S.ESCALATED)  # not decided yet (statutory clocks)
# Statuses whose payable_amount is money owed: an appealed approval keeps counting
# against the aggregate, and so does the decision an answer upholds or replaces.
PAYING = (S.APPROVED, S.APPEALED, S.UPHELD, S.OVERTURNED)
FINAL = tuple(s for s, moves in TRANSITIONS.items() if not moves)

_OUTCOME_EVENT = {
    ("rules", "approved"): E.RULES_APPROVE,
    ("rules", "rejected"): E.RULES_REJECT,
    ("rules", "escalated"): E.RULES_ESCALATE,
    ("rules", "pending_info"): E.RULES_REQUEST_INFO,
    ("supervisor", "approved"): E.SUPERVISOR_APPROVE,
    ("supervisor", "rejected"): E.SUPERVISOR_REJECT,
    ("supervisor", "pending_info"): E.SUPERVISOR_REQUEST_INFO,
    ("no_reply", "escalated"): E.NO_REPLY_ESCALATE,
}


class IllegalTransition(Exception):
    """`event` does not apply to a claim in `current`; `allowed` lists the events that do."""

    def __init__(self, current: str, event: str) -> None:
        self.current, self.event = current, event
        status = _status(current)
        self.allowed = tuple(sorted(TRANSITIONS[status])) if status is not None else ()
        super().__init__(f"A claim that is {current} cannot take the event {event}.")


def _status(value: str) -> ClaimStatus | None:
    try:
        return ClaimStatus(value)
    except ValueError:
        return None


def transition(current: str, event: ClaimEvent) -> ClaimStatus:
    """The status a claim in `current` moves to on `event`; IllegalTransition if none."""
    status = _status(current)
    moves = TRANSITIONS.get(status) if status is not None else None
    if moves is None or event not in moves:
        raise IllegalTransition(current, event)
    return moves[event]


def decision_event(source: str, outcome: str) -> ClaimEvent:
    """The event a decision with `outcome` is: `source` "rules" (intake, documents),
    "supervisor" (a person deciding an escalated claim) or "no_reply" (the day-10
    sweep escalating); ValueError for a combination that is no event."""
    try:
        return _OUTCOME_EVENT[(source, outcome)]
    except KeyError:
        raise ValueError(f"no lifecycle event for a {source} decision {outcome}") from None
