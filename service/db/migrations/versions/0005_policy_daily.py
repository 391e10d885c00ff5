"""per-policy daily claim tallies, kept by triggers (flat-cost history lookups)

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from service.db import tallies

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_daily",
        sa.Column("policy_number", sa.String(64), primary_key=True),
        sa.Column("date_of_loss", sa.Date(), primary_key=True),
        sa.Column("claim_type", sa.String(40), primary_key=True),
        sa.Column("claims", sa.Integer(), nullable=False),
        sa.Column("paid_cents", sa.BigInteger(), nullable=False),
    )
    tallies.install(op.get_bind(), backfill=True, column="paid_cents", scale=100)


def downgrade() -> None:
    tallies.uninstall(op.get_bind())
    op.drop_table("policy_daily")
