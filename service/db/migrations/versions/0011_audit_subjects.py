"""audit chains per subject (subject, seq, txid) and signed checkpoints

Events already stored keep their single global chain (subject NULL): `claims audit
verify` checks them as the legacy segment, in id order, as before. New events chain
per subject. On PostgreSQL the stored events get txid 0, so the first checkpoint
covers them too.

Revision ID: 0011_audit_subjects
Revises: 0010_sessions
"""

import sqlalchemy as sa
from alembic import op

revision = "0011_audit_subjects"
down_revision = "0010_sessions"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("subject", sa.String(160), nullable=True))
        batch_op.add_column(sa.Column("seq", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("txid", sa.BigInteger(), nullable=True))
        batch_op.create_index("uq_audit_events_subject_seq", ["subject", "seq"], unique=True)
        batch_op.create_index("ix_audit_events_txid", ["txid"], postgresql_using="brin")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("UPDATE audit_events SET txid = 0")
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("position", sa.String(8), nullable=False),
        sa.Column("covers_from", sa.BigInteger(), nullable=False),
        sa.Column("covers_to", sa.BigInteger(), nullable=False),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("root", sa.String(64), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_txid")
        batch_op.drop_index("uq_audit_events_subject_seq")
        batch_op.drop_column("txid")
        batch_op.drop_column("seq")
        batch_op.drop_column("subject")
