"""The queue of thousands: cursor pages, search, reason filter, sorts, due soon, appeals.

Runs on SQLite and PostgreSQL (the search and the reason filter are SQL)."""

from __future__ import annotations

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
    # LATE_REPORTING's underscore is not a wildcard either
    assert client.get("/v1/escalations?reason=LATEXREPORTING", headers=sup).json["total"] == 0

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
