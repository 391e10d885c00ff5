"""Every table, one module per aggregate; importing this package registers them all on
`Base.metadata` (Alembic's env.py and the data modules import it, nothing else does).

Money is NUMERIC(15, 3); times are timezone-aware UTC (service/db/tables/base.py).
"""

from __future__ import annotations

from service.db.tables.accounts import ApiKeyRow, ConsoleSessionRow, LoginThrottleRow, UserRow
from service.db.tables.analysis import BacktestChunkRow, BacktestRow, ShadowResultRow
from service.db.tables.appeals import AppealRow
from service.db.tables.audit import AuditCheckpointRow, AuditEventRow
from service.db.tables.base import Base, BigId, Money, UTCDateTime
from service.db.tables.claims import (
    ClaimFlagRow,
    ClaimRow,
    DecisionRow,
    DocumentRow,
    PolicyDailyRow,
)
from service.db.tables.idempotency import IdempotencyKeyRow
from service.db.tables.messages import MessageCopyRow
from service.db.tables.outbox import OutboxRow
from service.db.tables.policies import CoverageRow, PolicyRow
from service.db.tables.rulesets import RulesetRow

__all__ = [
    "ApiKeyRow",
    "AppealRow",
    "AuditCheckpointRow",
    "AuditEventRow",
    "BacktestChunkRow",
    "BacktestRow",
    "Base",
    "BigId",
    "ClaimFlagRow",
    "ClaimRow",
    "ConsoleSessionRow",
    "CoverageRow",
    "DecisionRow",
    "DocumentRow",
    "IdempotencyKeyRow",
    "LoginThrottleRow",
    "MessageCopyRow",
    "Money",
    "OutboxRow",
    "PolicyDailyRow",
    "PolicyRow",
    "RulesetRow",
    "ShadowResultRow",
    "UTCDateTime",
    "UserRow",
]
