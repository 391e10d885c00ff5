"""Rulesets: each version's full text, stored once for audit, and when each was last active
(the version a process that starts with a broken rules folder decides with)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db.tables import DecisionRow, RulesetRow


def store_ruleset(
    session: Session, version: str, files: dict[str, str], rule_count: int, now: datetime
) -> None:
    """Store a ruleset's text once. Several processes (or requests) that see a new
    version at the same moment all try: the losers' inserts are undone in a savepoint
    and their transactions go on."""
    if session.get(RulesetRow, version) is not None:
        return
    try:
        with session.begin_nested():
            session.add(
                RulesetRow(version=version, files=files, rule_count=rule_count, first_loaded_at=now)
            )
    except IntegrityError:
        pass  # stored meanwhile by someone else: what we wanted


def get_ruleset(session: Session, version: str) -> RulesetRow | None:
    return session.get(RulesetRow, version)


def mark_ruleset_active(session: Session, version: str, now: datetime) -> None:
    """The stored version `version` is active from `now` (a later mark wins)."""
    session.execute(
        update(RulesetRow).where(RulesetRow.version == version).values(activated_at=now)
    )


def last_active_ruleset(session: Session) -> RulesetRow | None:
    """The version most recently active; before any mark, the newest stored one."""
    newest = select(RulesetRow).limit(1)
    return session.scalar(
        newest.where(RulesetRow.activated_at.is_not(None)).order_by(RulesetRow.activated_at.desc())
    ) or session.scalar(newest.order_by(RulesetRow.first_loaded_at.desc()))


def list_versions(session: Session, limit: int) -> list[tuple[str, int, datetime, int]]:
    """Stored rulesets, newest first: (version, rule_count, first_loaded_at, decisions
    that name it)."""
    used = (
        select(DecisionRow.ruleset_version, func.count().label("n"))
        .group_by(DecisionRow.ruleset_version)
        .subquery()
    )
    rows = session.execute(
        select(RulesetRow.version, RulesetRow.rule_count, RulesetRow.first_loaded_at, used.c.n)
        .outerjoin(used, used.c.ruleset_version == RulesetRow.version)
        .order_by(RulesetRow.first_loaded_at.desc())
        .limit(limit)
    ).all()
    return [(v, int(c), at, int(n or 0)) for v, c, at, n in rows]
