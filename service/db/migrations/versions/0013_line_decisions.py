"""per-line decisions, yearly deductibles and out-of-pocket maximums (issue 16)

- decisions.lines: each line item's decision (service/domain/lines.py); existing
  decisions get [] (they were made on the claim total).
- claims.deductible_applied / claims.patient_responsibility: what the claim's current
  decision counts towards a yearly deductible and out-of-pocket maximum (PR CARC 1, and
  every PR cut); read under the per-policy lock (service/usecases/payments.py).
- coverages.deductible_period, out_of_pocket_maximum, out_of_pocket_period: "claim"
  (today's behaviour) or "policy_year".

Revision ID: 0013_line_decisions
Revises: 0011_audit_subjects
"""

import sqlalchemy as sa
from alembic import op

revision = "0013_line_decisions"
down_revision = "0012_lifecycle"
branch_labels = None
depends_on = None

MONEY = sa.Numeric(15, 3)


def upgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch:
        batch.add_column(sa.Column("lines", sa.JSON(), nullable=True))
    op.execute("UPDATE decisions SET lines = '[]'")
    with op.batch_alter_table("decisions", schema=None) as batch:
        batch.alter_column("lines", existing_type=sa.JSON(), nullable=False)
    with op.batch_alter_table("claims", schema=None) as batch:
        batch.add_column(sa.Column("deductible_applied", MONEY, nullable=True))
        batch.add_column(sa.Column("patient_responsibility", MONEY, nullable=True))
    with op.batch_alter_table("coverages", schema=None) as batch:
        batch.add_column(
            sa.Column("deductible_period", sa.String(16), nullable=False, server_default="claim")
        )
        batch.add_column(sa.Column("out_of_pocket_maximum", MONEY, nullable=True))
        batch.add_column(
            sa.Column(
                "out_of_pocket_period", sa.String(16), nullable=False, server_default="claim"
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("coverages", schema=None) as batch:
        batch.drop_column("out_of_pocket_period")
        batch.drop_column("out_of_pocket_maximum")
        batch.drop_column("deductible_period")
    with op.batch_alter_table("claims", schema=None) as batch:
        batch.drop_column("patient_responsibility")
        batch.drop_column("deductible_applied")
    with op.batch_alter_table("decisions", schema=None) as batch:
        batch.drop_column("lines")
