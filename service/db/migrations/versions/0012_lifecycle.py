"""claim lifecycle: appealed claims keep their payment; who made each decision

- `appeals.answer` (the supervisor's note) and `answered_by`; an answered appeal is
  `upheld` or `overturned` from now on.
- `decisions.decided_by_kind`: rule | person | system (a timed sweep); stored ones are
  backfilled from `decided_by` ("rules" is the rules, "followups" the day-10 sweep).
- A claim under an open appeal was stored as "escalated" with its payment dropped from
  the tallies; it becomes "appealed" and the tallies count the payment of every status
  in service/domain/lifecycle.py PAYING (approved, appealed, upheld, overturned).

Revision ID: 0012_lifecycle
Revises: 0011_audit_subjects
"""

import sqlalchemy as sa
from alembic import op

from service.db import tallies

revision = "0012_lifecycle"
down_revision = "0011_audit_subjects"
branch_labels = None
depends_on = None


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("decided_by_kind", sa.String(8), nullable=True))
    op.execute(
        "UPDATE decisions SET decided_by_kind = CASE decided_by WHEN 'rules' THEN 'rule' "
        "WHEN 'followups' THEN 'system' ELSE 'person' END"
    )
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.add_column(sa.Column("answer", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("answered_by", sa.String(120), nullable=True))
    tallies.uninstall(bind)
    op.execute(
        "UPDATE claims SET status = 'appealed' WHERE status = 'escalated' AND id IN "
        "(SELECT claim_id FROM appeals WHERE status = 'open')"
    )
    op.execute("DELETE FROM policy_daily")
    tallies.install(bind, backfill=True)


def downgrade() -> None:
    bind = op.get_bind()
    tallies.uninstall(bind)
    op.execute("UPDATE claims SET status = 'escalated' WHERE status = 'appealed'")
    op.execute(
        "UPDATE claims SET status = 'approved' WHERE status IN ('upheld', 'overturned') "
        "AND payable_amount > 0"
    )
    op.execute("UPDATE claims SET status = 'rejected' WHERE status IN ('upheld', 'overturned')")
    op.execute("DELETE FROM policy_daily")
    tallies.install(bind, backfill=True)  # no stored status is in PAYING but approved now
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("decided_by_kind")
    op.execute("UPDATE appeals SET status = 'answered' WHERE status IN ('upheld', 'overturned')")
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.drop_column("answered_by")
        batch_op.drop_column("answer")
