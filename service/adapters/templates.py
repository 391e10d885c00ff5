"""The one module that renders notifications (Jinja2): one template per event and
language, English fallback.

`service/templates/notifications/<lang>/<event>.j2` holds a `subject` and a
`text` block; the HTML part is the text laid out by `layout.html.j2`.
A missing language falls back to English with a log line, never an error.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from jinja2 import Environment, FileSystemLoader, TemplateNotFound, select_autoescape

from service.domain.text import letter_line

log = logging.getLogger(__name__)

TEMPLATES = Path(__file__).resolve().parents[1] / "templates" / "notifications"
FALLBACK = "en"
LANGUAGES = ("en", "zh", "es", "et", "vi")
CLAIMANT_EVENTS = (
    "acknowledgment",
    "approved",
    "rejected",
    "escalated",
    "information_requested",
    "reminder",
    "appeal_received",
    "decision_after_review",
    "closed_abandoned",
    "status_update",
)
STAFF_EVENTS = ("sla_breach", "daily_digest", "regulatory_clock", "appeal_reminder")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str
    language: str  # the language actually used


@lru_cache(maxsize=4)
def environment(root: str = str(TEMPLATES)) -> Environment:
    return Environment(
        loader=FileSystemLoader(root),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=False,
        finalize=letter_line,  # every {{ value }}: no bidi controls, no line breaks
    )


@lru_cache(maxsize=1)
def carc_words() -> dict[str, dict[str, str]]:
    data = yaml.safe_load((TEMPLATES / "carc.yaml").read_text(encoding="utf-8"))
    return {lang: {str(k): v for k, v in table.items()} for lang, table in data.items()}


def reason_words(reasons: list[dict[str, Any]], language: str) -> list[str]:
    """Each reason in words: the CARC plain-words line in the claimant's language (a
    reason without a CARC, such as a supervisor's approval, by its code), else the
    rule's own message."""
    table = carc_words().get(language) or {}
    out = []
    for reason in reasons:
        carc = str(reason.get("carc") or "")
        message = str(reason.get("message") or "")
        code = str(reason.get("code") or "").lower()
        if language == FALLBACK:
            out.append(message or _words(carc_words()[FALLBACK], carc, code) or carc)
        else:
            out.append(
                _words(table, carc, code) or (table.get(code) if not carc else None) or message
            )
    return [text for text in out if text]


def labelled_reason_words(reasons: list[dict[str, Any]], language: str) -> list[tuple[str, str]]:
    """Each reason in words with the language the words are in: the CARC plain-words
    line in the claimant's language when there is one, else the English one, else the
    rule's own message (written in English)."""
    table = carc_words().get(language) or {}
    english = carc_words()[FALLBACK]
    out: list[tuple[str, str]] = []
    for reason in reasons:
        carc = str(reason.get("carc") or "")
        code = str(reason.get("code") or "").lower()
        own = _words(table, carc, code) if language != FALLBACK else None
        if own:
            out.append((own, language))
            continue
        text = str(reason.get("message") or "") or _words(english, carc, code) or carc
        if text:
            out.append((text, FALLBACK))
    return out


def _words(table: dict[str, str], carc: str, reason: str) -> str | None:
    """The plain words for `carc`, the ones for "carc/reason" first when there are
    some (CARC 119 reads differently for a per-claim limit and an annual aggregate)."""
    if not carc:
        return None
    return table.get(f"{carc}/{reason}") or table.get(carc)


def adjustment_words(adjustments: list[dict[str, Any]], currency: str, language: str) -> list[str]:
    """Each adjustment line of a payment, e.g. "50.00 USD: Part of the amount is your
    deductible, ..." (the CARC in the claimant's words; amounts as stored, in the
    currency's decimals)."""
    table = carc_words().get(language) or carc_words()[FALLBACK]
    return [
        f"{a['amount']} {currency}: "
        f"{_words(table, str(a['carc']), str(a.get('reason') or '')) or a.get('reason', '')}"
        for a in adjustments
    ]


def line_words(
    lines: list[dict[str, Any]],
    items: list[dict[str, Any]],
    currency: str,
    language: str,
) -> list[dict[str, Any]]:
    """Each line item's decision for a letter: {sequence, label, submitted, paid, why}.

    `lines` are a decision's stored lines (service/domain/lines.py to_json), `items` the
    claim's line items as received (their descriptions label the lines). `why` says what
    was not paid and why, one entry per cut: "30.00 USD: <the CARC in the claimant's
    words>" (in English a line rule's own message, which names the service)."""
    table = carc_words().get(language) or carc_words()[FALLBACK]
    out = []
    for line in lines:
        index = int(line.get("sequence", 0)) - 1
        item = items[index] if 0 <= index < len(items) else {}
        description = str(item.get("description") or "").strip()
        code = str(line.get("code", ""))
        messages = {
            str(r.get("carc")): str(r.get("message") or "") for r in line.get("reasons") or []
        }
        why = []
        for cut in line.get("adjustments") or []:
            carc = str(cut.get("carc", ""))
            words = messages.get(carc) if language == FALLBACK else None
            text = (words or table.get(carc, carc)).rstrip(".。")
            why.append(f"{cut.get('amount')} {currency}: {text}")
        out.append(
            {
                "sequence": line.get("sequence"),
                "label": f"{code} {description}".strip() if description != code else code,
                "submitted": line.get("submitted"),
                "paid": line.get("paid"),
                "why": why,
            }
        )
    return out


def render(
    event: str, language: str | None, context: dict[str, Any], root: Path = TEMPLATES
) -> Rendered:
    env = environment(str(root))
    wanted = language or FALLBACK
    try:
        template = env.get_template(f"{wanted}/{event}.j2")
        used = wanted
    except TemplateNotFound:
        log.warning(
            "no %s template for %s; falling back to %s",
            wanted,
            event,
            FALLBACK,
            extra={"event": event, "language": wanted},
        )
        template = env.get_template(f"{FALLBACK}/{event}.j2")
        used = FALLBACK
    ctx = template.new_context(dict(context, lang=used))
    subject = " ".join("".join(template.blocks["subject"](ctx)).split())
    text = "".join(template.blocks["text"](ctx)).strip() + "\n"
    html = env.get_template("layout.html.j2").render(
        lang=used, subject=subject, blocks=_blocks(text)
    )
    return Rendered(subject=subject, text=text, html=html, language=used)


def _blocks(text: str) -> list[dict[str, Any]]:
    """Paragraphs and bullet lists, for the HTML layout."""
    blocks: list[dict[str, Any]] = []
    for line in text.splitlines():
        line = line.strip()
        if not line:
            blocks.append({"items": None, "text": ""})
        elif line.startswith("- "):
            if blocks and blocks[-1].get("items") is not None:
                blocks[-1]["items"].append(line[2:])
            else:
                blocks.append({"items": [line[2:]], "text": ""})
        elif blocks and blocks[-1].get("text"):
            blocks[-1]["text"] += " " + line
        else:
            blocks.append({"items": None, "text": line})
    return [b for b in blocks if b.get("items") or b.get("text")]
