"""The queue of thousands: cursor pages, search, reason filter, sorts, due soon, appeals.

Runs on SQLite and PostgreSQL (the search and the reason filter are SQL)."""

from __future__ import annotations

import re

import pytest

from tests.auth_helpers import key
from tests.queue_helpers import add_open_appeal, bulk_escalated

pytestmark = pytest.mark.integration


@pytest.fixture
def sup(app):
    return key(app, "supervisor", "sue")


def pages(client, headers, query):
    """Every page of the queue for `query`: the ids in order and the number of pages."""
    ids, cursor, count = [], None, 0
    while True:
        url = f"/v1/escalations?{query}" + (f"&cursor={cursor}" if cursor else "")
        body = client.get(url, headers=headers).json
        ids += [i["id"] for i in body["items"]]
        count += 1
        cursor = body["next_cursor"]
        if cursor is None:
            return ids, count, body["total"]


def test_every_claim_once_in_each_sort_and_search_by_ref_policy_name(app, client, clock, sup):
    ctx = app.extensions["claims"]
    rows = bulk_escalated(ctx, 230, clock.now())
    for sort in ("due", "-due", "amount", "-amount", "age", "-age"):
        ids, count, total = pages(client, sup, f"limit=50&sort={sort}")
        assert total == 230 and count == 5
        assert len(ids) == 230 and len(set(ids)) == 230, sort
        by = {"due": "sla_due_at", "amount": "amount", "age": "created_at"}[sort.lstrip("-")]
        expected = sorted(rows, key=lambda r: (r[by], r["id"]), reverse=sort.startswith("-"))
        assert ids == [r["id"] for r in expected], sort

    by_ref = client.get("/v1/escalations?q=q-00042", headers=sup).json
    assert [i["external_ref"] for i in by_ref["items"]] == ["Q-00042"]
    by_policy = client.get("/v1/escalations?q=P-Q017&limit=10", headers=sup).json
    assert {i["policy_number"] for i in by_policy["items"]} == {"P-Q017"}
    assert by_policy["total"] == 1  # 17 only: 417 is past the 230 claims
    by_name = client.get("/v1/escalations?q=dora novak 13", headers=sup).json
    assert sorted(i["claimant_name"] for i in by_name["items"]) == [
        "Dora Novak 13",
        "Dora Novak 133",
        "Dora Novak 138",
    ]
    # LIKE wildcards are plain text in a search
    assert client.get("/v1/escalations?q=%25", headers=sup).json["total"] == 0
    assert client.get("/v1/escalations?q=Q_0", headers=sup).json["total"] == 0


def test_reason_filter_pages_and_appeal_rows_show_the_appeal(app, client, clock, sup):
    ctx = app.extensions["claims"]
    rows = bulk_escalated(ctx, 40, clock.now())
    late, late_pages, total = pages(client, sup, "reason=LATE_REPORTING&limit=7")
    assert total == 20 and late_pages == 3
    assert set(late) == {r["id"] for i, r in enumerate(rows) if i % 2 == 0}
    # a code no waiting claim and no rule has is refused, as in the console (and so
    # LATE_REPORTING's underscore can never act as a wildcard for it)
    assert client.get("/v1/escalations?reason=LATEXREPORTING", headers=sup).status_code == 400

    appealed = rows[5]["id"]
    add_open_appeal(
        ctx,
        appealed,
        "I sent the receipt twice and the shop confirmed it in "
        "writing on the ninth of May, please look again",
        clock.now(),
    )
    body = client.get("/v1/escalations?reason=appeal", headers=sup).json
    assert [i["id"] for i in body["items"]] == [appealed]
    item = body["items"][0]
    assert item["appeal"] is True
    assert item["appeal_excerpt"] == (
        "I sent the receipt twice and the shop confirmed it in writing …"
    )


def test_due_soon_at_eighty_percent_and_overdue(app, client, clock, sup):
    ctx = app.extensions["claims"]
    bulk_escalated(ctx, 1, clock.now(), sla_hours=10)  # decided now, due in 10 h
    item = lambda: client.get("/v1/escalations", headers=sup).json["items"][0]  # noqa: E731
    clock.advance(hours=7, minutes=59)
    assert item()["due_soon"] is False and item()["overdue"] is False
    clock.advance(minutes=1)
    assert item()["due_soon"] is True and item()["overdue"] is False
    clock.advance(hours=2, seconds=1)
    assert item()["due_soon"] is False and item()["overdue"] is True


def test_bad_cursor_or_sort_is_a_400_and_a_cursor_keeps_to_its_sort(app, client, clock, sup):
    bulk_escalated(app.extensions["claims"], 3, clock.now())
    first = client.get("/v1/escalations?limit=1&sort=amount", headers=sup).json
    assert first["next_cursor"]
    other = client.get(
        f"/v1/escalations?limit=1&sort=age&cursor={first['next_cursor']}", headers=sup
    )
    assert other.status_code == 400 and other.json["code"] == "bad_cursor"
    junk = client.get("/v1/escalations?cursor=not-a-cursor", headers=sup)
    assert junk.status_code == 400
    assert client.get("/v1/escalations?sort=colour", headers=sup).status_code == 422


def test_claims_without_a_deadline_come_last_and_page_across_the_boundary(app, client, clock, sup):
    from sqlalchemy import update

    from service.db.tables import ClaimRow

    ctx = app.extensions["claims"]
    rows = bulk_escalated(ctx, 12, clock.now())
    no_deadline = {r["id"] for r in rows[::3]}
    with ctx.unit_of_work() as session:
        session.execute(
            update(ClaimRow).where(ClaimRow.id.in_(no_deadline)).values(sla_due_at=None)
        )
        session.commit()
    for sort in ("due", "-due"):
        ids, count, total = pages(client, sup, f"limit=5&sort={sort}")
        assert total == 12 and count == 3 and len(set(ids)) == 12, sort
        assert set(ids[-4:]) == no_deadline, sort  # nulls last either way
        dated = [r for r in rows if r["id"] not in no_deadline]
        expected = sorted(dated, key=lambda r: (r["sla_due_at"], r["id"]), reverse=sort == "-due")
        assert ids[:8] == [r["id"] for r in expected], sort
        assert ids[8:] == sorted(no_deadline, reverse=sort == "-due"), sort


FORGED = [
    ["amount", "1e999999", "x"],
    ["amount", "1e-999999", "x"],
    ["amount", "NaN", "x"],
    ["amount", 5, "x"],
    ["due", None, "a\u0000b"],
    ["due", None, "x" * 65],
    ["due", "9999-12-31T23:59:59-14:00", "x"],
    ["due", "0001-01-01T00:00:00+14:00", "x"],
    ["due", "2026-06-15T09:00:00", "x"],
]


def forge(value) -> str:
    import base64
    import json

    raw = json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_forged_cursors_are_a_400_in_the_api_and_the_console(app, client, clock, sup):
    bulk_escalated(app.extensions["claims"], 3, clock.now())
    for value in FORGED:
        sort = value[0]
        api = client.get(f"/v1/escalations?sort={sort}&cursor={forge(value)}", headers=sup)
        assert api.status_code == 400 and api.json["code"] == "bad_cursor", value
        assert api.headers["Content-Type"].startswith("application/problem+json")
        page = client.get(f"/console/queue?sort={sort}&cursor={forge(value)}", headers=sup)
        assert page.status_code == 400, value
        assert 'role="alert"' in page.get_data(as_text=True)
    sane = forge(["amount", "100.5", "00000000-0000-0000-0000-000000000001"])
    assert client.get(f"/v1/escalations?sort=amount&cursor={sane}", headers=sup).status_code == 200


def test_any_cursor_is_a_page_or_a_400(app, client, clock, sup):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    bulk_escalated(app.extensions["claims"], 2, clock.now())
    values = st.one_of(
        st.none(),
        st.text(max_size=40),
        st.integers(),
        st.floats(allow_nan=True),
        st.decimals(allow_nan=True).map(str),
        st.datetimes(timezones=st.timezones()).map(lambda d: d.isoformat()),
        st.from_regex(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}[+-][0-9]{2}:[0-9]{2}", fullmatch=True),
    )
    sorts = st.sampled_from(["due", "-due", "amount", "-amount", "age", "-age"])

    @settings(
        max_examples=150,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(sorts, values, st.one_of(st.text(max_size=80), st.integers(), st.none()))
    def check(sort, shown, claim_id):
        cursor = forge([sort, shown, claim_id])
        api = client.get(f"/v1/escalations?sort={sort}&cursor={cursor}", headers=sup)
        allowed = (200, 400, 422) if len(cursor) > 400 else (200, 400)  # 422: the arg's length
        assert api.status_code in allowed, (shown, claim_id, api.status_code)
        page = client.get(f"/console/queue?sort={sort}&cursor={cursor}", headers=sup)
        assert page.status_code in (200, 400), (shown, claim_id, page.status_code)

    check()


def test_reason_filter_lists_the_codes_of_waiting_claims_and_the_api_checks_it_alike(
    app, client, clock, sup
):
    reasons = ("CURRENCY_MISMATCH", "supervisor_approved")
    bulk_escalated(app.extensions["claims"], 4, clock.now(), reasons=reasons)
    html = client.get("/console/queue", headers=sup).get_data(as_text=True)
    offered = re.findall(r'<option value="([^"]+)" >[^<]+</option>', html)
    assert "CURRENCY_MISMATCH" in offered and "supervisor_approved" in offered
    assert "appeal" in offered
    page = client.get("/v1/escalations?reason=supervisor_approved", headers=sup)
    assert page.status_code == 200 and page.json["total"] == 2
    console = client.get("/console/queue?reason=CURRENCY_MISMATCH", headers=sup)
    assert console.status_code == 200 and "2 shown of 2" in console.get_data(as_text=True)
    for where in ("/v1/escalations", "/console/queue"):
        made_up = client.get(f"{where}?reason=MADE_UP", headers=sup)
        assert made_up.status_code == 400, where
    # a code the rules can give, with no claim waiting on it: a filter that finds nothing
    none = client.get("/v1/escalations?reason=LATE_REPORTING", headers=sup)
    assert none.status_code == 200 and none.json["total"] == 0


def test_a_blank_search_is_no_filter(app, client, clock, sup):
    empty = client.get("/console/queue?q=%20%20%20", headers=sup).get_data(as_text=True)
    assert "Nothing waiting" in empty and "No claims match" not in empty
    bulk_escalated(app.extensions["claims"], 3, clock.now())
    api = client.get("/v1/escalations?q=%20%20", headers=sup)
    assert api.status_code == 200 and api.json["total"] == 3
    page = client.get("/console/queue?q=%20&size=25", headers=sup).get_data(as_text=True)
    assert "No claims match" not in page and "3 shown of 3" in page
