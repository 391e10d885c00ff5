"""Sample policies and claims for the demo: every outcome, every line of business.

Dates are relative to today (UTC) so the demo keeps telling the same story.
Each claim carries the outcome the default ruleset should give it and the
rule it exercises. Names, emails and phones are made up (example.com,
555-01xx numbers).

Per policy at most two earlier claims exist when a claim is decided, except
on FREQ-4001, where three earlier claims make the fourth a frequency review.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

CURRENCY = "USD"


@dataclass(frozen=True)
class SamplePolicy:
    number: str
    body: dict[str, Any]


@dataclass(frozen=True)
class SampleClaim:
    payload: dict[str, Any]
    expect: str  # approved | rejected | escalated | pending_info
    shows: str  # the rule it exercises, in a few words


def _cov(
    claim_type: str, limit: str, aggregate: str, deductible: str, waiting_months: int = 0
) -> dict[str, Any]:
    return {
        "claim_type": claim_type,
        "limit_per_claim": limit,
        "annual_aggregate": aggregate,
        "deductible": deductible,
        "waiting_period": {"months": waiting_months},
    }


def policies(today: date) -> list[SamplePolicy]:
    def p(
        number: str,
        holder: str,
        start: int,
        end: int,
        *covs: dict[str, Any],
        status: str = "active",
    ) -> SamplePolicy:
        body = {
            "holder": holder,
            "status": status,
            "effective_from": (today + timedelta(days=start)).isoformat(),
            "effective_to": (today + timedelta(days=end)).isoformat(),
            "currency": CURRENCY,
            "coverages": list(covs),
        }
        if status != "active":  # the day it stopped: here, the end of its term
            body["terminated_on"] = body["effective_to"]
        return SamplePolicy(number, body)

    device = _cov("device_damage", "800", "5000", "50")
    theft = _cov("device_theft", "1500", "3000", "100")
    water = _cov("water_damage", "20000", "50000", "500")
    fire = _cov("fire_damage", "100000", "200000", "1000")
    return [
        p("DEV-1001", "Ada Example", -200, 165, device, theft),
        p("DEV-1002", "Ben Sample", -400, -35, device, status="lapsed"),
        p("DEV-1003", "Chen Placeholder", 10, 375, device, theft),
        p("DEV-1004", "Dana Test", -150, 215, device),
        p("FREQ-4001", "Eve Frequent", -150, 215, device),
        p("PROP-2001", "Frank Homeowner", -800, 200, water, fire),
        p("PROP-2002", "Grace Renter", -300, 65, water, fire),
        p("PROP-2003", "Hugo Twice", -100, 265, water),
        p(
            "MED-3001",
            "Ines Newcomer",
            -20,
            345,
            _cov("medical_reimbursement", "5000", "10000", "100", 1),
        ),
        p(
            "MED-3002",
            "Jun Patient",
            -200,
            165,
            _cov("medical_reimbursement", "3000", "6000", "100", 1),
        ),
    ]


_PEOPLE = {
    "en": ("Ada Example", "ada@example.com", "+1 555 0101"),
    "zh": ("Wei Example", "wei@example.com", "+1 555 0102"),
    "es": ("Lucía Ejemplo", "lucia@example.com", "+1 555 0103"),
    "et": ("Mari Näide", "mari@example.com", "+1 555 0104"),
    "vi": ("Lan Ví Dụ", "lan@example.com", "+1 555 0105"),
}
_ALL_DOCS = {
    "device_damage": ("purchase_receipt", "photos"),
    "device_theft": ("police_report", "purchase_receipt"),
    "water_damage": ("photos", "scope_notes", "estimate"),
    "fire_damage": ("photos", "estimate", "fire_report"),
    "medical_reimbursement": ("invoice", "medical_report"),
}


def claims(today: date) -> list[SampleClaim]:
    now = datetime.now(UTC).replace(microsecond=0)

    def c(
        policy: str,
        claim_type: str,
        loss_days_ago: int,
        amount: str,
        expect: str,
        shows: str,
        *,
        docs: tuple[str, ...] | None = None,
        reported_days_ago: int | None = None,
        lang: str = "en",
    ) -> SampleClaim:
        name, email, phone = _PEOPLE[lang]
        documents = _ALL_DOCS[claim_type] if docs is None else docs
        payload: dict[str, Any] = {
            "external_ref": "",  # numbered in submission order below
            "policy_number": policy,
            "claim_type": claim_type,
            "date_of_loss": (today - timedelta(days=loss_days_ago)).isoformat(),
            "amount": amount,
            "currency": CURRENCY,
            "description": f"Demo: {shows}",
            "claimant": {"name": name, "email": email, "phone": phone, "preferred_language": lang},
            "documents": [{"type": d, "ref": f"demo://{d}"} for d in documents],
        }
        if reported_days_ago is not None:
            reported = datetime.combine(today - timedelta(days=reported_days_ago), time(10), UTC)
            payload["reported_at"] = min(reported, now).isoformat().replace("+00:00", "Z")
        return SampleClaim(payload, expect, shows)

    dup = c("PROP-2003", "water_damage", 6, "1800.00", "approved", "first of a pair", lang="es")
    dup_again = SampleClaim(dict(dup.payload), "rejected", "duplicate (CARC 18)")
    ordered = [
        c("DEV-1001", "device_damage", 3, "350.00", "approved", "clean approval, deductible"),
        c("DEV-1001", "device_theft", 5, "1400.00", "escalated", "payable above 1,000", lang="zh"),
        c(
            "DEV-1001",
            "device_damage",
            2,
            "1200.00",
            "approved",
            "over per-claim limit (119)",
            lang="vi",
        ),
        c("DEV-1002", "device_damage", 10, "300.00", "rejected", "policy lapsed (CARC 27)"),
        c(
            "DEV-1003",
            "device_theft",
            3,
            "600.00",
            "rejected",
            "before policy start (26)",
            lang="et",
        ),
        c("DEV-1004", "device_theft", 4, "500.00", "rejected", "type not covered (CARC 96)"),
        c(
            "DEV-1004",
            "device_damage",
            2,
            "250.00",
            "pending_info",
            "photos missing (16)",
            docs=("purchase_receipt",),
            lang="es",
        ),
        c("DEV-1004", "device_damage", 1, "40.00", "rejected", "under the deductible (1)"),
        c(
            "FREQ-4001",
            "device_damage",
            100,
            "120.00",
            "approved",
            "earlier claim 1 of 3",
            reported_days_ago=98,
        ),
        c(
            "FREQ-4001",
            "device_damage",
            70,
            "140.00",
            "approved",
            "earlier claim 2 of 3",
            reported_days_ago=69,
        ),
        c(
            "FREQ-4001",
            "device_damage",
            40,
            "160.00",
            "approved",
            "earlier claim 3 of 3",
            reported_days_ago=38,
        ),
        c("FREQ-4001", "device_damage", 4, "180.00", "escalated", "4th in 12 months", lang="et"),
        c("PROP-2001", "water_damage", 8, "2400.00", "approved", "property approval"),
        c(
            "PROP-2001",
            "water_damage",
            400,
            "3100.00",
            "rejected",
            "reported >1 year (29)",
            lang="zh",
        ),
        c("PROP-2001", "fire_damage", 60, "3000.00", "escalated", "reported >1 month late"),
        c(
            "PROP-2002",
            "fire_damage",
            12,
            "12000.00",
            "escalated",
            "payable above 5,000",
            lang="vi",
        ),
        c(
            "PROP-2002",
            "water_damage",
            3,
            "900.00",
            "pending_info",
            "scope notes, estimate",
            docs=("photos",),
        ),
        dup,
        dup_again,
        c(
            "MED-3001",
            "medical_reimbursement",
            5,
            "450.00",
            "rejected",
            "in waiting period",
            lang="es",
        ),
        c(
            "MED-3002",
            "medical_reimbursement",
            9,
            "640.00",
            "approved",
            "medical approval",
            lang="zh",
        ),
        c("MED-3002", "medical_reimbursement", 6, "2800.00", "escalated", "payable above 2,000"),
        c(
            "MED-3002",
            "medical_reimbursement",
            2,
            "180.00",
            "pending_info",
            "medical report missing",
            docs=("invoice",),
            lang="vi",
        ),
        c("NOPE-9999", "device_damage", 2, "200.00", "escalated", "no such policy"),
    ]
    return [
        SampleClaim(
            {**sample.payload, "external_ref": f"DEMO-{n:03d}"}, sample.expect, sample.shows
        )
        for n, sample in enumerate(ordered, start=1)
    ]
