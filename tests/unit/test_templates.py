import logging

import pytest

from service.adapters import templates

pytestmark = pytest.mark.unit

CONTEXT = {
    "name": "Ana <Lee>",
    "ref": "EXT-42",
    "amount": "120.00",
    "currency": "EUR",
    "payable_amount": "70.00",
    "outcome": "approved",
    "reasons": ["Reason one", "Reason two"],
    "missing_documents": ["photos", "receipt"],
    "day": 2,
    "answer_days": 3,
}


@pytest.mark.parametrize("language", templates.LANGUAGES)
@pytest.mark.parametrize("event", templates.CLAIMANT_EVENTS)
def test_every_event_renders_in_every_language(event, language, caplog):
    with caplog.at_level(logging.WARNING):
        out = templates.render(event, language, CONTEXT)
    assert out.language == language
    assert not caplog.records  # no fallback for the five supported languages
    assert "EXT-42" in out.subject
    assert "Ana <Lee>" in out.text  # plain text is not escaped
    assert "Ana &lt;Lee&gt;" in out.html and f'lang="{language}"' in out.html
    assert "{{" not in out.text and "{%" not in out.text


@pytest.mark.parametrize("language", templates.LANGUAGES)
def test_rejection_lists_reasons_in_the_claimants_words(language):
    words = templates.reason_words(
        [
            {"code": "not_covered", "carc": "96", "message": "Water damage is not covered."},
            {"code": "custom", "carc": None, "message": "Photo is unreadable."},
        ],
        language,
    )
    out = templates.render("rejected", language, dict(CONTEXT, reasons=words))
    assert templates.carc_words()[language]["96"] in out.text or language == "en"
    assert "Photo is unreadable." in out.text
    assert "<li>" in out.html


def test_english_uses_the_rule_message():
    words = templates.reason_words(
        [{"carc": "96", "message": "Water damage is not covered."}], "en"
    )
    assert words == ["Water damage is not covered."]


def test_missing_language_falls_back_to_english_and_logs(caplog):
    with caplog.at_level(logging.WARNING, logger="service.adapters.templates"):
        out = templates.render("approved", "fr", CONTEXT)
    assert out.language == "en"
    assert "approved" in out.subject
    assert any("falling back" in r.getMessage() for r in caplog.records)


def test_none_language_means_english():
    assert templates.render("acknowledgment", None, CONTEXT).language == "en"


@pytest.mark.parametrize("event", templates.STAFF_EVENTS)
def test_staff_templates_render(event):
    context = {
        "ref": "EXT-1",
        "claim_id": "c1",
        "hours": 48,
        "day": "2026-01-01",
        "counts": {"new": 1, "decided": 1, "pending_info": 0, "escalated": 1},
        "outcomes": {"approved": 1},
        "breaches": [],
        "oldest": [],
        "dead": 0,
    }
    assert templates.render(event, "en", context).text.strip()


@pytest.mark.parametrize("language", templates.LANGUAGES)
@pytest.mark.parametrize("event", templates.CLAIMANT_EVENTS)
def test_a_letter_line_carries_no_bidi_controls_or_line_breaks(event, language):
    """Issue 12 point 9: what the claimant sent cannot reorder or split a letter's line."""
    hostile = dict(
        CONTEXT,
        name="Ana\u202eeeL\u202c\r\nP.S. wire the money to X",
        ref="EXT\u2066-42\u2069\nBcc: x@example.com",
        reasons=["Reason\u202a one\r\nsecond line"],
    )
    out = templates.render(event, language, hostile)
    for text in (out.subject, out.text, out.html):
        assert not set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069") & set(text)
    assert "\r" not in out.text
    assert "EXT-42 Bcc: x@example.com" in out.text or "EXT-42" in out.subject
    assert "\nP.S." not in out.text and "\nBcc" not in out.text
    if "Ana" in out.text:
        assert "AnaeeL P.S. wire the money to X" in out.text
