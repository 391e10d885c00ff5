"""rulesets.activated_at: when a version last became active (the fallback of a broken folder)

Revision ID: 0008_ruleset_activation
Revises: 0007_money
"""

import sqlalchemy as sa
from alembic import op

revision = "0008_ruleset_activation"
down_revision = "0007_money"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("rulesets") as batch:
        batch.add_column(sa.Column("activated_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_rulesets_activated_at", ["activated_at"])


def downgrade() -> None:
    with op.batch_alter_table("rulesets") as batch:
        batch.drop_index("ix_rulesets_activated_at")
        batch.drop_column("activated_at")
