"""Statutory clocks, status letters, the digest's clock list, and the audit trail of the
follow-up and SLA sweeps; an injected clock moves time (both databases)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, update

from service.adapters import templates
from service.clock import FixedClock
from service.db.session import session_factory
from service.db.tables import AuditEventRow, ClaimRow, DecisionRow, OutboxRow
from service.usecases import notifications
from service.usecases.context import Context, build_context
from service.usecases.escalate_overdue import escalate_overdue
from service.usecases.run_statutory_clocks import run_statutory_clocks
from service.usecases.send_daily_digest import digest_context, send_daily_digest
from service.usecases.send_reminders import send_reminders
from service.usecases.verify_audit import verify_audit
from tests.conftest import make_config

pytestmark = pytest.mark.integration
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


@pytest.fixture
def cfg(db_url, tmp_path):
    return make_config(
        db_url,
        tmp_path,
        SUPERVISOR_LEAD_EMAIL="lead@example.com",
        DIGEST_RECIPIENTS=("ops@example.com",),
    )


def at(cfg, when) -> Context:
    """The use cases' context with the clock stopped at `when`."""
    return build_context(cfg, clock=FixedClock(when))


@pytest.fixture
def sessions(cfg):
    return session_factory(cfg.database_url)


def add_claim(
    sessions,
    *,
    status="received",
    at=T0,
    language="en",
    email=True,
    missing=None,
    callback_url=None,
) -> str:
    claim_id = str(uuid.uuid4())
    with sessions.begin() as s:
        s.add(
            ClaimRow(
                id=claim_id,
                client_id="c",
                external_ref=f"EXT-{claim_id[:8]}",
                policy_number="P-1",
                claim_type="device_damage",
                date_of_loss=date(2026, 2, 20),
                reported_at=at,
                amount=Decimal("120.00"),
                currency="EUR",
                description="",
                claimant={"name": "Ana", **({"email": "ana@example.com"} if email else {})},
                preferred_language=language,
                callback_url=callback_url,
                payload={},
                status=status,
                version=1,
                created_at=at,
                updated_at=at,
            )
        )
        if status != "received":
            s.add(
                DecisionRow(
                    claim_id=claim_id,
                    outcome=status,
                    payable_amount=None,
                    reasons=[],
                    missing_documents=missing or [],
                    trace=[],
                    facts={},
                    decided_by="rules",
                    decided_at=at,
                )
            )
    return claim_id


def rows(sessions, claim_id, event=None) -> list[OutboxRow]:
    with sessions() as s:
        query = select(OutboxRow).where(OutboxRow.claim_id == claim_id).order_by(OutboxRow.id)
        if event:
            query = query.where(OutboxRow.event == event)
        return list(s.scalars(query))


def audit(sessions, claim_id) -> list[AuditEventRow]:
    with sessions() as s:
        return list(
            s.scalars(
                select(AuditEventRow)
                .where(AuditEventRow.claim_id == claim_id)
                .order_by(AuditEventRow.id)
            )
        )


def sweep(sessions, cfg, clock, times=2):
    for _ in range(times):  # a sweep that runs twice sends nothing twice
        result = run_statutory_clocks(at(cfg, clock.now()))
    return result


# ---------------------------------------------------------------- clocks
def test_warning_at_80_percent_once_then_when_missed(cfg, sessions):
    claim_id = add_claim(sessions)
    clock = FixedClock(T0)

    def warnings():
        return [
            (r.payload["clock"], r.payload["stage"])
            for r in rows(sessions, claim_id, "regulatory_clock")
        ]

    clock.set(T0 + timedelta(days=11, hours=23))  # 79.9% of 15 days
    sweep(sessions, cfg, clock)
    assert warnings() == []
    clock.set(T0 + timedelta(days=12))  # 80%
    sweep(sessions, cfg, clock)
    assert warnings() == [("acknowledge", "near")]
    clock.set(T0 + timedelta(days=14))
    sweep(sessions, cfg, clock)
    assert warnings() == [("acknowledge", "near")]
    clock.set(T0 + timedelta(days=15))
    sweep(sessions, cfg, clock)
    assert warnings() == [("acknowledge", "near"), ("acknowledge", "past")]

    warning = rows(sessions, claim_id, "regulatory_clock")[0]
    assert warning.dedupe_key == f"claim:{claim_id}:reg:acknowledge:near:email"
    with sessions() as s:
        email = notifications.build_email(s, warning, cfg)
    assert email.to == ("lead@example.com",)
    assert "Regulatory deadline near" in email.subject and email.subject.endswith(
        f"claim EXT-{claim_id[:8]}"
    )
    assert "80% of the time used" in email.text

    # the acknowledgment goes out: that clock stops; the decide clock warns at day 32
    with sessions.begin() as s:
        s.add(
            OutboxRow(
                dedupe_key=f"claim:{claim_id}:ack:email",
                claim_id=claim_id,
                event="acknowledgment",
                channel="email",
                payload={},
                status="sent",
                attempts=1,
                next_attempt_at=T0,
                created_at=T0,
                sent_at=clock.now(),
            )
        )
    clock.set(T0 + timedelta(days=32))
    sweep(sessions, cfg, clock)
    assert warnings()[2:] == [("decide", "near")]
    clock.set(T0 + timedelta(days=41))
    sweep(sessions, cfg, clock)
    assert warnings()[2:] == [("decide", "near"), ("decide", "past")]
    assert sweep(sessions, cfg, clock)["warnings"] == 0


def test_decided_claims_carry_no_clock_and_late_sweep_sends_latest_stage(cfg, sessions):
    decided = add_claim(sessions, status="approved")
    late = add_claim(sessions, status="pending_info")
    clock = FixedClock(T0 + timedelta(days=45))
    sweep(sessions, cfg, clock)
    assert rows(sessions, decided) == []
    stages = sorted(
        (r.payload["clock"], r.payload["stage"]) for r in rows(sessions, late, "regulatory_clock")
    )
    assert stages == [("acknowledge", "past"), ("decide", "past")]


def test_status_letter_every_30_days_while_open(cfg, sessions):
    claim_id = add_claim(
        sessions, status="pending_info", language="et", missing=[{"type": "photos"}]
    )
    no_email = add_claim(sessions, email=False)
    clock = FixedClock(T0 + timedelta(days=29, hours=23))
    sweep(sessions, cfg, clock)
    assert rows(sessions, claim_id, "status_update") == []
    for day, letters in ((30, [1]), (45, [1]), (60, [1, 2]), (89, [1, 2]), (90, [1, 2, 3])):
        clock.set(T0 + timedelta(days=day))
        sweep(sessions, cfg, clock)
        assert [
            r.payload["letter"] for r in rows(sessions, claim_id, "status_update")
        ] == letters, day
    assert rows(sessions, no_email, "status_update") == []

    letter = rows(sessions, claim_id, "status_update")[1]
    assert letter.dedupe_key == f"claim:{claim_id}:status:2:email"
    with sessions() as s:
        email = notifications.build_email(s, letter, cfg)
    assert email.language == "et" and "60 päeva" in email.text and "photos" in email.text

    with sessions.begin() as s:  # decided: no more letters
        s.execute(update(ClaimRow).where(ClaimRow.id == claim_id).values(status="approved"))
    clock.set(T0 + timedelta(days=120))
    sweep(sessions, cfg, clock)
    assert len(rows(sessions, claim_id, "status_update")) == 3


def test_status_letter_renders_in_every_language():
    for language in templates.LANGUAGES:
        out = templates.render(
            "status_update",
            language,
            {
                "name": "Ana",
                "ref": "EXT-9",
                "days_open": 30,
                "status": "escalated",
                "every_days": 30,
                "missing_documents": [],
            },
        )
        assert out.language == language and "EXT-9" in out.subject and "30" in out.text


def test_digest_lists_claims_near_or_past_a_clock(cfg, sessions):
    near = add_claim(sessions, at=T0 - timedelta(days=12, hours=12))  # ack at 83%
    past = add_claim(sessions, status="escalated", at=T0 - timedelta(days=41))
    fine = add_claim(sessions, at=T0 - timedelta(days=2))
    add_claim(sessions, status="approved", at=T0 - timedelta(days=60))
    with sessions() as s:
        context = digest_context(s, (T0 - timedelta(days=1)).date(), cfg)
    listed = {(c["claim_id"], c["clock"], c["stage"]) for c in context["clocks"]}
    assert (near, "acknowledge", "near") in listed
    assert {(past, "acknowledge", "past"), (past, "decide", "past")} <= listed
    assert not any(c["claim_id"] == fine for c in context["clocks"])
    assert context["clocks_total"] == 3 and context["clocks_past"] == 2
    assert context["clocks"][0]["claim_id"] == past  # most urgent first

    assert send_daily_digest(at(cfg, T0), (T0 - timedelta(days=1)).date())
    digest = _digest_row(sessions)
    with sessions() as s:
        email = notifications.build_email(s, digest, cfg)
    assert "Statutory clocks near or past their deadline: 3 (2 past)" in email.text
    assert f"- {past} decide PAST" in email.text and f"- {near} acknowledge near" in email.text


def _digest_row(sessions) -> OutboxRow:
    with sessions() as s:
        return s.scalars(select(OutboxRow).where(OutboxRow.event == "daily_digest")).one()


# ---------------------------------------------------------------- audit of the sweeps
def test_abandon_escalation_is_audited(cfg, sessions):
    claim_id = add_claim(sessions, status="pending_info", missing=[{"type": "photos"}])
    send_reminders(at(cfg, T0 + timedelta(days=10)))
    send_reminders(at(cfg, T0 + timedelta(days=10)))
    events = audit(sessions, claim_id)
    assert [(e.actor, e.action) for e in events] == [("followups", "claim.escalated_abandoned")]
    assert events[0].before["status"] == "pending_info"
    assert events[0].after["status"] == "escalated"
    assert events[0].after["reason_codes"] == ["documents_not_received"]
    assert verify_audit(build_context(cfg)).ok


def test_abandon_close_is_audited_and_the_claimant_told(cfg, sessions, db_url, tmp_path):
    closing = make_config(db_url, tmp_path, ABANDON_ACTION="close")
    claim_id = add_claim(
        sessions,
        status="pending_info",
        language="vi",
        missing=[{"type": "photos"}],
        callback_url="http://127.0.0.1:9/hook",
    )
    for _ in range(2):
        send_reminders(at(closing, T0 + timedelta(days=10)))
    with sessions() as s:
        assert s.get(ClaimRow, claim_id).status == "closed"
    events = audit(sessions, claim_id)
    assert [(e.actor, e.action) for e in events] == [("followups", "claim.closed_abandoned")]
    assert (events[0].before["status"], events[0].after["status"]) == ("pending_info", "closed")
    sent = rows(sessions, claim_id)
    assert [(r.event, r.channel) for r in sent] == [
        ("closed_abandoned", "email"),
        ("claim.closed", "webhook"),
    ]
    with sessions() as s:
        email = notifications.build_email(s, sent[0], closing)
        _, _, body = notifications.build_webhook(s, sent[1], closing, 1)
    assert email.language == "vi" and "photos" in email.text and "10" in email.text
    assert '"outcome":"closed"' in body and "documents_not_received" in body
    assert verify_audit(build_context(cfg)).ok


def test_closed_abandoned_renders_in_every_language_with_fallback():
    context = {"name": "Ana", "ref": "EXT-7", "abandon_days": 10, "missing_documents": ["x"]}
    for language in templates.LANGUAGES:
        out = templates.render("closed_abandoned", language, context)
        assert out.language == language and "EXT-7" in out.subject and "- x" in out.text
    assert templates.render("closed_abandoned", "fr", context).language == "en"


def test_sla_flag_raised_and_cleared_are_audited(cfg, sessions):
    claim_id = add_claim(sessions, status="escalated")
    for _ in range(2):
        escalate_overdue(at(cfg, T0 + timedelta(hours=49)))
    events = audit(sessions, claim_id)
    assert [(e.actor, e.action) for e in events] == [("sla", "claim.flagged_overdue")]
    assert (events[0].before["overdue"], events[0].after["overdue"]) == (False, True)
    with sessions.begin() as s:
        s.execute(update(ClaimRow).where(ClaimRow.id == claim_id).values(status="approved"))
    for _ in range(2):
        escalate_overdue(at(cfg, T0 + timedelta(hours=50)))
    events = audit(sessions, claim_id)
    assert [(e.actor, e.action) for e in events] == [
        ("sla", "claim.flagged_overdue"),
        ("sla", "claim.overdue_cleared"),
    ]
    assert events[1].after == {"overdue": False, "status": "approved"}
    assert verify_audit(build_context(cfg)).ok
