from __future__ import annotations

import pytest

from service.db.tables import AuditEventRow
from service.usecases.resend_dead_message import (
    MessageNotFound,
    NotDead,
    list_dead_messages,
    resend_dead_message,
)
from tests.unit.usecases.conftest import add_claim, add_outbox, dispatcher, outbox_row

pytestmark = pytest.mark.unit


def test_resend_is_audited_and_dispatched(ctx):
    claim_id, _ = add_claim(ctx)
    dead = add_outbox(ctx, claim_id, "acknowledgment", status="dead", attempts=6)
    assert list_dead_messages(ctx, 10)["total"] == 1
    item = resend_dead_message(ctx, dead, actor="cli")
    assert (item["status"], item["attempts"]) == ("pending", 0)
    assert outbox_row(ctx, dead).status == "pending"
    assert dispatcher(ctx).dispatched == [[dead]]
    with ctx.unit_of_work() as s:
        [event] = s.query(AuditEventRow).filter(AuditEventRow.action == "outbox.resent")
        assert event.actor == "cli" and event.before["attempts"] == 6
    with pytest.raises(NotDead):
        resend_dead_message(ctx, dead, actor="cli")
    with pytest.raises(MessageNotFound):
        resend_dead_message(ctx, dead + 100, actor="cli")
