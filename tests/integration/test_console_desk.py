"""The supervisors' desk pages served by Flask (the browser tests drive the same pages)."""

from __future__ import annotations

import re

import pytest

from tests.auth_helpers import key
from tests.queue_helpers import add_open_appeal, bulk_escalated

pytestmark = pytest.mark.integration


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    return sqlite_url


@pytest.fixture
def sup(app):
    return key(app, "supervisor", "sue")


def rows(html: str) -> list[str]:
    return re.findall(r'<tr class="[^"]*" data-claim="([^"]+)"', html)


def test_queue_pages_with_a_chosen_size_and_keeps_filters_in_the_next_link(app, client, clock, sup):
    bulk_escalated(app.extensions["claims"], 120, clock.now())
    page = client.get("/console/queue?size=25&reason=LATE_REPORTING&sort=-amount", headers=sup)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and len(rows(html)) == 25
    assert "25 shown of 60" in html
    assert '<option value="LATE_REPORTING" selected>' in html  # a select, not free text
    following = re.search(r'<a rel="next" href="([^"]+)"', html).group(1).replace("&amp;", "&")
    assert "reason=LATE_REPORTING" in following and "sort=-amount" in following
    second = client.get(following, headers=sup).get_data(as_text=True)
    assert len(rows(second)) == 25 and not set(rows(second)) & set(rows(html))
    assert "First page" in second


def test_no_match_is_not_nothing_waiting(app, client, clock, sup):
    empty = client.get("/console/queue", headers=sup).get_data(as_text=True)
    assert "Nothing waiting" in empty and "No claims match" not in empty
    bulk_escalated(app.extensions["claims"], 3, clock.now())
    none = client.get("/console/queue?q=nobody-by-this-name", headers=sup).get_data(as_text=True)
    assert "No claims match these filters" in none and "Nothing waiting" not in none


def test_unknown_reason_size_or_cursor_is_a_400_page(app, client, sup):
    for query in ("reason=MADE_UP", "size=7", "sort=colour", "cursor=xyz"):
        response = client.get(f"/console/queue?{query}", headers=sup)
        assert response.status_code == 400, query
        assert 'role="alert"' in response.get_data(as_text=True)


def test_due_soon_and_appeal_rows(app, client, clock, sup):
    ctx = app.extensions["claims"]
    made = bulk_escalated(ctx, 2, clock.now(), sla_hours=10)
    add_open_appeal(
        ctx, made[1]["id"], "The repair shop invoice was attached on day one", clock.now()
    )
    clock.advance(hours=8, minutes=30)
    html = client.get("/console/queue", headers=sup).get_data(as_text=True)
    assert 'class="due-soon" data-claim="{}"'.format(made[0]["id"]) in html
    assert "Due soon" in html
    assert "The repair shop invoice was attached on day one" in html
    appeal_row = html[html.index(made[1]["id"]) :].split("</tr>")[0]
    assert "LATE_REPORTING" not in appeal_row and "AMOUNT_ABOVE_THRESHOLD" not in appeal_row
