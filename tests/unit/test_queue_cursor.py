"""The queue's cursor decoder (service/usecases/read_queue.py) against anything a caller
could forge: a position the database can compare, or BadQueueCursor; nothing else."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from service.usecases.read_queue import SORTS, BadQueueCursor, _decode, _encode


def forge(value: object) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


SHOWN = st.one_of(
    st.none(),
    st.text(max_size=60),
    st.integers(),
    st.floats(allow_nan=True),
    st.decimals(allow_nan=True).map(str),
    st.datetimes(timezones=st.none() | st.timezones()).map(lambda d: d.isoformat()),
    st.sampled_from(["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "1e999999"]),
)


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(SORTS), SHOWN, st.one_of(st.text(max_size=80), st.integers(), st.none()))
def test_a_forged_cursor_is_a_position_or_bad_cursor(sort, shown, claim_id):
    try:
        value, decoded_id = _decode(forge([sort, shown, claim_id]), sort)
    except BadQueueCursor:
        return
    assert decoded_id.isascii() and decoded_id.isprintable() and 0 < len(decoded_id) <= 64
    if isinstance(value, Decimal):
        assert value.is_finite() and value.adjusted() < 20 and value.as_tuple().exponent >= -6
    elif isinstance(value, datetime):
        assert value.utcoffset() == UTC.utcoffset(None)
    else:
        assert value is None


def test_what_the_service_issues_decodes_back():
    when = datetime(2026, 6, 15, 9, 0, tzinfo=UTC)
    claim_id = "00000000-0000-0000-0000-000000000001"
    assert _decode(_encode("due", when, claim_id), "due") == (when, claim_id)
    assert _decode(_encode("-amount", Decimal("100.50"), claim_id), "-amount") == (
        Decimal("100.50"),
        claim_id,
    )
    assert _decode(_encode("due", None, claim_id), "due") == (None, claim_id)
