"""claim flags raised by the follow-up sweeps (overdue escalations)

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "claim_flags",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "claim_id", sa.String(36), sa.ForeignKey("claims.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("flag", sa.String(32), nullable=False),
        sa.Column("decision_id", BigId, nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("raised_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("cleared_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("claim_id", "flag", "decision_id", name="uq_claim_flags_once"),
    )
    op.create_index("ix_claim_flags_claim_id", "claim_flags", ["claim_id"])
    op.create_index("ix_claim_flags_open", "claim_flags", ["flag", "cleared_at"])


def downgrade() -> None:
    op.drop_table("claim_flags")
