"""/v1/reports (finance, admin): the monthly bordereau and remittance as CSV, and which
bordereau months are stored."""

from __future__ import annotations

import re
from typing import Any

from flask import Response, current_app
from marshmallow import Schema, fields

from service.api.auth import requires
from service.api.parsing import Blueprint
from service.api.problems import Problem
from service.usecases.write_bordereau import bordereau, stored_bordereaux
from service.usecases.write_remittance import remittance

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
    _check_month(month)
    try:
        report = bordereau(current_app.extensions["claims"], month)
    except ValueError:
        raise _not_begun(month) from None
    return _csv(report.text, f"bordereau-{month}.csv", report.complete)


@blp.route("/remittance/<month>", methods=["GET"])
@requires("finance", "admin")
@blp.doc(
    responses={
        "200": {
            "description": "The remittance as CSV",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
        "422": {"description": "Not a month (YYYY-MM), or one that has not begun"},
    }
)
def get_remittance(month: str) -> Any:
    """The remittance of a month as CSV: one row per paid claim line and its adjustments
    (group, CARC, amount), totals per claim and per policy; the claims and paid totals are
    the bordereau's of the same month (UTC). Stored once the month has ended."""
    _check_month(month)
    try:
        report = remittance(current_app.extensions["claims"], month)
    except ValueError:
        raise _not_begun(month) from None
    return _csv(report.text, f"remittance-{month}.csv", report.complete)


def _check_month(month: str) -> None:
    match = MONTH.match(month)
    if not match or not FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR:
        raise Problem(
            422,
            f"The month must be written YYYY-MM, e.g. 2026-03, in {FIRST_YEAR}-{LAST_YEAR}.",
            code="bad_month",
            errors=[{"field": "month", "message": "Expected YYYY-MM."}],
        )


def _not_begun(month: str) -> Problem:
    return Problem(
        422,
        f"{month} has not begun; there is nothing to report yet.",
        code="bad_month",
        errors=[{"field": "month", "message": "In the future."}],
    )


def _csv(text: str, filename: str, complete: bool) -> Response:
    response = Response(text, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["X-Report-Complete"] = "true" if complete else "false"
    return response
