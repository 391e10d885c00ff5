"""/v1/reports (finance, admin): the monthly bordereau as CSV, and which months are stored."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, current_app
from marshmallow import Schema, fields

from service.api.auth import requires
from service.api.parsing import Blueprint
from service.api.problems import Problem
from service.usecases.write_bordereau import bordereau, stored_bordereaux

blp = Blueprint("reports", __name__, url_prefix="/v1/reports", description="Reports")

MONTH = re.compile(r"^([0-9]{4})-(0[1-9]|1[0-2])$")  # ASCII digits only
FIRST_YEAR, LAST_YEAR = 1900, 2999  # the years a claim's dates may take (schemas.SANE_DATES)


class StoredMonthSchema(Schema):
    month = fields.String()
    bytes = fields.Integer()
    written_at = fields.String()
    href = fields.String()


class StoredListSchema(Schema):
    items = fields.List(fields.Nested(StoredMonthSchema))


@blp.route("/bordereau", methods=["GET"])
@requires("finance", "admin")
@blp.response(200, StoredListSchema)
def list_bordereaux() -> Any:
    """Months whose bordereau is stored, newest first."""
    items = stored_bordereaux(current_app.extensions["claims"])
    return {"items": [dict(i, href=f"/v1/reports/bordereau/{i['month']}") for i in items]}


@blp.route("/bordereau/<month>", methods=["GET"])
@requires("finance", "admin")
@blp.doc(
    responses={
        "200": {
            "description": "The bordereau as CSV",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        "422": {"description": "Not a month (YYYY-MM), or one that has not begun"},
    }
)
def get_bordereau(month: str) -> Any:
    """The bordereau of a month as CSV: approved claims, totals per policy and type.

    A month that has ended is written once and then served from the stored file;
    the current month is built on the fly and not stored (it is still changing).
    """
    match = MONTH.match(month)
    if not match or not FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR:
        raise Problem(
            422,
            f"The month must be written YYYY-MM, e.g. 2026-03, in {FIRST_YEAR}-{LAST_YEAR}.",
            code="bad_month",
            errors=[{"field": "month", "message": "Expected YYYY-MM."}],
        )
    try:
        report = bordereau(current_app.extensions["claims"], month)
    except ValueError:
        raise Problem(
            422,
            f"{month} has not begun; there is nothing to report yet.",
            code="bad_month",
            errors=[{"field": "month", "message": "In the future."}],
        ) from None
    response = Response(report.text, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="bordereau-{month}.csv"'
    response.headers["X-Report-Complete"] = "true" if report.complete else "false"
    return response
