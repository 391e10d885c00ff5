"""rule analysis: backtests, their chunks, and shadow results

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Money = sa.Numeric(precision=14, scale=2)
When = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "backtests",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("candidate_version", sa.String(64), nullable=False),
        sa.Column("candidate_files", sa.JSON(), nullable=False),
        sa.Column("chunks_total", sa.Integer(), nullable=False),
        sa.Column("chunks_done", sa.Integer(), nullable=False),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", When, nullable=False),
        sa.Column("finished_at", When, nullable=True),
    )
    op.create_table(
        "backtest_chunks",
        sa.Column(
            "backtest_id", sa.String(36), sa.ForeignKey("backtests.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("chunk_no", sa.Integer(), primary_key=True),
        sa.Column("after_id", BigId, nullable=False),
        sa.Column("last_id", BigId, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("finished_at", When, nullable=True),
    )
    op.create_table(
        "shadow_results",
        sa.Column("id", BigId, primary_key=True),
        sa.Column(
            "claim_id", sa.String(36), sa.ForeignKey("claims.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("active_version", sa.String(64), nullable=False),
        sa.Column("shadow_version", sa.String(64), nullable=False),
        sa.Column("active_outcome", sa.String(16), nullable=False),
        sa.Column("shadow_outcome", sa.String(16), nullable=False),
        sa.Column("active_payable", Money, nullable=True),
        sa.Column("shadow_payable", Money, nullable=True),
        sa.Column("active_reasons", sa.JSON(), nullable=False),
        sa.Column("shadow_reasons", sa.JSON(), nullable=False),
        sa.Column("agree", sa.Boolean(), nullable=False),
        sa.Column("at", When, nullable=False),
    )
    op.create_index("ix_shadow_results_claim_id", "shadow_results", ["claim_id"])
    op.create_index("ix_shadow_results_at", "shadow_results", ["at"])
    op.create_index("ix_shadow_results_agree_at", "shadow_results", ["agree", "at"])


def downgrade() -> None:
    op.drop_table("shadow_results")
    op.drop_table("backtest_chunks")
    op.drop_table("backtests")
