"""Console pages for outbound messages: the admin list and a letter's HTML part.

The Messages section of a claim page is rendered by views.claim (data from
service/usecases/read_messages.py, template console/_messages.html).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from flask import Response, current_app, render_template, request

from service.api.auth import requires
from service.api.console.headers import LETTER_CSP
from service.api.console.views import STAFF, bp
from service.api.problems import Problem
from service.usecases import read_messages
from service.usecases.read_messages import CHANNELS, STATES, MessageFilters

PAGE = 50


@bp.route("/messages")
@requires("admin")
def messages() -> Any:
    filters = parse_filters(request.args)
    ctx = current_app.extensions["claims"]
    page = read_messages.recent_messages(ctx, filters, min(PAGE, ctx.config.page_size_max))
    kept = {k: v for k, v in request.args.items() if k != "before" and v}
    return render_template(
        "console/messages.html",
        page=page,
        f=filters,
        kept=kept,
        channels=CHANNELS,
        states=STATES,
        events=read_messages.known_events(),
    )


@bp.route("/messages/<int(max=9223372036854775807):outbox_id>/letter")
@requires(*STAFF)
def letter(outbox_id: int) -> Any:
    """The HTML part exactly as sent, for the sandboxed frame on the claim page."""
    html = read_messages.letter_html(current_app.extensions["claims"], outbox_id)
    if html is None:
        raise Problem(404, "No letter with an HTML part has this id.", code="not_found")
    response = Response(html, mimetype="text/html")
    response.headers["Content-Security-Policy"] = LETTER_CSP
    response.headers["X-Frame-Options"] = "SAMEORIGIN"  # framed by the claim page only
    response.headers["Cache-Control"] = "no-store"
    return response


def parse_filters(args: Mapping[str, str]) -> MessageFilters:
    """The page's query string, checked: a value outside the lists is a 400, not a guess."""
    channel = _one_of(args, "channel", CHANNELS)
    status = _one_of(args, "status", STATES)
    event = _one_of(args, "event", read_messages.known_events())
    before = args.get("before") or None
    if before is not None and (not (before.isascii() and before.isdigit()) or len(before) > 18):
        raise Problem(400, "before must be a message id.", code="bad_filter")
    return MessageFilters(
        channel=channel,
        status=status,
        event=event,
        day_from=_day(args, "from"),
        day_to=_day(args, "to"),
        before_id=int(before) if before else None,
    )


def _one_of(args: Mapping[str, str], name: str, allowed: tuple[str, ...]) -> str | None:
    value = args.get(name) or None
    if value is not None and value not in allowed:
        raise Problem(400, f"{name} must be one of {', '.join(allowed)}.", code="bad_filter")
    return value


def _day(args: Mapping[str, str], name: str) -> date | None:
    value = args.get(name) or None
    if value is None:
        return None
    try:
        if len(value) > 10:
            raise ValueError(value)
        return date.fromisoformat(value)
    except ValueError:
        raise Problem(400, f"{name} must be a date (YYYY-MM-DD).", code="bad_filter") from None
