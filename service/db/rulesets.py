"""Rulesets: each version's full text, stored once for audit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from service.db.tables import RulesetRow


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
