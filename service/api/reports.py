"""/v1/reports (finance, admin): the monthly bordereau as CSV, and which months are stored."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from flask import Response, current_app
from marshmallow import Schema, fields

from service.api.auth import requires
from service.api.parsing import Blueprint
from service.api.problems import Problem

blp = Blueprint("reports", __name__, url_prefix="/v1/reports", description="Reports")

MONTH = re.compile(r"^(\d{4})-(0[1-9]|1[0-2])$")
STORED = re.compile(r"^bordereau-(\d{4}-\d{2})\.csv$")
FIRST_YEAR, LAST_YEAR = 1900, 2999  # the years a claim's dates may take (schemas.SANE_DATES)


class StoredMonthSchema(Schema):
    month = fields.String()
    bytes = fields.Integer()
    written_at = fields.String()
    href = fields.String()


class StoredListSchema(Schema):
    items = fields.List(fields.Nested(StoredMonthSchema))


def _folder() -> Path:
    return Path(current_app.extensions["claims"].config.instance_dir) / "reports"


@blp.route("/bordereau", methods=["GET"])
@requires("finance", "admin")
@blp.response(200, StoredListSchema)
def list_bordereaux() -> Any:
    """Months whose bordereau is stored, newest first."""
    items = []
    folder = _folder()
    paths = sorted(folder.glob("bordereau-*.csv"), reverse=True) if folder.is_dir() else []
    for path in paths:
        match = STORED.match(path.name)
        if not match:
            continue
        stat = path.stat()
        items.append(
            {
                "month": match.group(1),
                "bytes": stat.st_size,
                "written_at": datetime.fromtimestamp(stat.st_mtime, UTC).isoformat(),
                "href": f"/v1/reports/bordereau/{match.group(1)}",
            }
        )
    return {"items": items}


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
    from worker import reports

    ctx = current_app.extensions["claims"]
    match = MONTH.match(month)
    if not match or not FIRST_YEAR <= int(match.group(1)) <= LAST_YEAR:
        raise Problem(
            422,
            f"The month must be written YYYY-MM, e.g. 2026-03, in {FIRST_YEAR}-{LAST_YEAR}.",
            code="bad_month",
            errors=[{"field": "month", "message": "Expected YYYY-MM."}],
        )
    start, end = reports.month_bounds(month)
    now = ctx.clock()
    if start > now:
        raise Problem(
            422,
            f"{month} has not begun; there is nothing to report yet.",
            code="bad_month",
            errors=[{"field": "month", "message": "In the future."}],
        )
    partial = end > now
    if partial:
        with ctx.unit_of_work() as session:
            text = reports.bordereau_csv(session, month)
    else:
        path = reports.write_bordereau(ctx.sessions, ctx.config, month, overwrite=False)
        text = path.read_bytes().decode("utf-8")  # as written: CR LF, quoted CRs kept
    response = Response(text, mimetype="text/csv")
    response.headers["Content-Type"] = "text/csv; charset=utf-8"
    response.headers["Content-Disposition"] = f'attachment; filename="bordereau-{month}.csv"'
    response.headers["X-Report-Complete"] = "false" if partial else "true"
    return response
