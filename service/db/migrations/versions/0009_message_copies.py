"""message copies: each outbox message as rendered for its latest delivery attempt

Revision ID: 0009_message_copies
Revises: 0008_ruleset_activation
"""

import sqlalchemy as sa
from alembic import op

revision = "0009_message_copies"
down_revision = "0008_ruleset_activation"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "message_copies",
        sa.Column(
            "outbox_id",
            BigId,
            sa.ForeignKey("outbox.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("rendered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("language", sa.String(8), nullable=True),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("message_copies")
