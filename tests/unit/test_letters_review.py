"""Claimant letters after the claims auditor's review: one sentence per line where a
sentence ends (no "800.00 USD.You claimed" run-ons) in every language, and the cuts
that share CARC 119 each in their own words."""

from __future__ import annotations

import pytest

from service.adapters.templates import adjustment_words, carc_words, reason_words, render
from service.domain.model import LANGUAGES

pytestmark = pytest.mark.unit

CONTEXT = {
    "ref": "EXT-1",
    "name": "Sam",
    "payable_amount": "800.00",
    "currency": "USD",
    "amount": "1000.00",
    "adjustments": ["150.00 USD: cut."],
    "reasons": ["Because."],
    "outcome": "approved",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_payment_and_what_was_claimed_are_separate_sentences(language):
    text = render("approved", language, CONTEXT).text
    (paid,) = [line for line in text.splitlines() if "800.00" in line]
    assert "1000.00" not in paid, text
    assert paid.rstrip().endswith(("USD.", "USD。")), text


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_review_result_and_its_reasons_are_separate_lines(language):
    lines = render("decision_after_review", language, CONTEXT).text.splitlines()
    first_reason = lines.index("- Because.")
    assert "EXT-1" not in lines[first_reason - 1], lines
    (result,) = [line for line in lines if "EXT-1" in line]
    assert result.rstrip()[-1] in ".。", lines


@pytest.mark.parametrize("language", LANGUAGES)
def test_per_claim_limit_and_annual_aggregate_read_differently(language):
    limit, aggregate, generic = adjustment_words(
        [
            {"carc": "119", "amount": "150.00", "reason": "per_claim_limit"},
            {"carc": "119", "amount": "200.00", "reason": "annual_aggregate"},
            {"carc": "119", "amount": "10.00", "reason": "something_else"},
        ],
        "USD",
        language,
    )
    words = carc_words()[language]
    assert limit == f"150.00 USD: {words['119/per_claim_limit']}"
    assert aggregate == f"200.00 USD: {words['119/annual_aggregate']}"
    assert generic == f"10.00 USD: {words['119']}"
    assert len({limit[12:], aggregate[12:], generic[11:]}) == 3


@pytest.mark.parametrize("language", LANGUAGES)
def test_a_cover_that_pays_nothing_is_not_a_maximum_reached(language):
    (words,) = reason_words(
        [
            {
                "code": "NO_BENEFIT",
                "carc": "119",
                "message": "This cover pays nothing for this type of loss.",
            }
        ],
        language,
    )
    assert words == carc_words()[language]["119/no_benefit"]
    assert words != carc_words()[language]["119"]


def test_every_language_has_the_same_plain_words():
    tables = carc_words()
    keys = set(tables["en"])
    assert {lang: set(t) for lang, t in tables.items()} == {lang: keys for lang in LANGUAGES}


@pytest.mark.parametrize("language", ["zh", "es", "et", "vi"])
def test_a_supervisors_approval_reads_in_the_claimants_language(language):
    """Review finding: a reason without a CARC (a supervisor's approval) stayed English."""
    reason = {"code": "supervisor_approved", "message": "Approved by a supervisor", "carc": None}
    words = reason_words([reason], language)
    assert words == [carc_words()[language]["supervisor_approved"]]
    assert "Approved by a supervisor" not in words
