"""money and time: three decimals, terminated_on, time zones, calendar waiting periods,
report dates fixed at intake, adjustment lines, line-item digests

- Money columns NUMERIC(14, 2) -> NUMERIC(15, 3) (KWD, BHD, ... have three decimals).
- policies.terminated_on: lapsed and cancelled policies get effective_to where the
  day they stopped is unknown; policies.time_zone (IANA, NULL = DEFAULT_TIME_ZONE).
- coverages.waiting_period (ISO 8601, P30D / P1M / P1Y) replaces waiting_period_days.
- claims.reported_on, time_zone, claims_last_12_months: fixed at intake; existing
  claims get their UTC report date, "UTC", and the count of claims on the policy
  submitted before them with a loss in the 365 days up to theirs.
- claims.line_items_key: digest of the line items (exact duplicates).
- decisions.adjustments: existing decisions get [] (they were made without them).
- policy_daily.paid_cents -> paid_thousandths (x10), the triggers rebuilt.

Revision ID: 0007_money
Revises: 0005
"""

from decimal import Decimal

import sqlalchemy as sa
from alembic import op

from service.db import tallies

revision = "0007_money"
down_revision = "0005"
branch_labels = None
depends_on = None

OLD = sa.Numeric(14, 2)
NEW = sa.Numeric(15, 3)
MONEY = {
    "claims": ("amount", "payable_amount"),
    "decisions": ("payable_amount",),
    "coverages": ("limit_per_claim", "annual_aggregate", "deductible"),
    "shadow_results": ("active_payable", "shadow_payable"),
}
NULLABLE = {"payable_amount", "active_payable", "shadow_payable"}

EARLIER_CLAIMS = {
    "postgresql": "claims.date_of_loss - 365",
    "sqlite": "date(claims.date_of_loss, '-365 days')",
}
UTC_DATE = {
    "postgresql": "(reported_at AT TIME ZONE 'UTC')::date",
    "sqlite": "date(reported_at)",
}


def _money(old: sa.Numeric[Decimal], new: sa.Numeric[Decimal]) -> None:
    for table, columns in MONEY.items():
        with op.batch_alter_table(table) as batch:
            for column in columns:
                batch.alter_column(
                    column, type_=new, existing_type=old, existing_nullable=column in NULLABLE
                )


def upgrade() -> None:
    bind = op.get_bind()
    dialect = bind.dialect.name
    tallies.uninstall(bind)  # triggers name the columns changed below
    _money(OLD, NEW)

    with op.batch_alter_table("policies") as batch:
        batch.add_column(sa.Column("terminated_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("time_zone", sa.String(64), nullable=True))
    op.execute(
        "UPDATE policies SET terminated_on = effective_to "
        "WHERE status IN ('lapsed', 'cancelled')"
    )

    with op.batch_alter_table("coverages") as batch:
        batch.add_column(
            sa.Column("waiting_period", sa.String(16), nullable=False, server_default="P0D")
        )
    op.execute("UPDATE coverages SET waiting_period = 'P' || waiting_period_days || 'D'")
    with op.batch_alter_table("coverages") as batch:
        batch.alter_column("waiting_period", server_default=None)
        batch.drop_column("waiting_period_days")

    with op.batch_alter_table("claims") as batch:
        batch.add_column(sa.Column("reported_on", sa.Date(), nullable=True))
        batch.add_column(sa.Column("time_zone", sa.String(64), nullable=True))
        batch.add_column(sa.Column("claims_last_12_months", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("line_items_key", sa.String(64), nullable=True))
    op.execute(f"UPDATE claims SET reported_on = {UTC_DATE[dialect]}, time_zone = 'UTC'")
    op.execute(
        "UPDATE claims SET claims_last_12_months = ("
        "SELECT count(*) FROM claims AS c2 WHERE c2.policy_number = claims.policy_number "
        f"AND c2.date_of_loss >= {EARLIER_CLAIMS[dialect]} "
        "AND c2.date_of_loss <= claims.date_of_loss "
        "AND (c2.created_at < claims.created_at "
        "OR (c2.created_at = claims.created_at AND c2.id < claims.id)))"
    )
    with op.batch_alter_table("claims") as batch:
        batch.alter_column("reported_on", existing_type=sa.Date(), nullable=False)
        batch.alter_column("time_zone", existing_type=sa.String(64), nullable=False)
        batch.alter_column("claims_last_12_months", existing_type=sa.Integer(), nullable=False)

    with op.batch_alter_table("decisions") as batch:
        batch.add_column(sa.Column("adjustments", sa.JSON(), nullable=True))
    op.execute("UPDATE decisions SET adjustments = '[]'")
    with op.batch_alter_table("decisions") as batch:
        batch.alter_column("adjustments", existing_type=sa.JSON(), nullable=False)

    with op.batch_alter_table("policy_daily") as batch:
        batch.alter_column("paid_cents", new_column_name="paid_thousandths")
    op.execute("UPDATE policy_daily SET paid_thousandths = paid_thousandths * 10")
    tallies.install(bind)


def downgrade() -> None:
    # Amounts with three decimals, calendar waiting periods and adjustment lines have no
    # place in the old schema: going back would lose money. Restore the backup instead.
    raise NotImplementedError("0007_money cannot be undone; restore a backup taken before it")
