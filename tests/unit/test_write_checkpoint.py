"""The signed body of a checkpoint is canonical: the same fields give the same bytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from service.usecases.write_checkpoint import BODY_FIELDS, checkpoint_body, checkpoint_root

pytestmark = pytest.mark.unit

FIELDS = {
    "seq": 3,
    "created_at": datetime(2026, 6, 15, 9, 0, 0, 123456, tzinfo=UTC),
    "position": "txid",
    "covers_from": 10,
    "covers_to": 20,
    "event_count": 2,
    "root": "ab" * 32,
    "prev_hash": "cd" * 32,
    "key_id": "0123456789abcdef",
}


def test_the_time_is_signed_as_the_database_returns_it():
    paris = FIELDS | {"created_at": FIELDS["created_at"].astimezone(timezone(timedelta(hours=2)))}
    assert checkpoint_body(paris) == checkpoint_body(FIELDS)
    exported = FIELDS | {"created_at": FIELDS["created_at"].isoformat()}  # as in the file
    assert checkpoint_body(exported) == checkpoint_body(FIELDS)


def test_every_field_is_signed():
    for name in BODY_FIELDS:
        changed = (
            FIELDS | {name: FIELDS[name] + (1 if isinstance(FIELDS[name], int) else "x")}
            if name != "created_at"
            else FIELDS | {name: FIELDS[name] + timedelta(seconds=1)}
        )
        assert checkpoint_body(changed) != checkpoint_body(FIELDS), name


def test_the_previous_checkpoint_is_the_first_leaf():
    events = ["11" * 32, "22" * 32]
    assert checkpoint_root("00" * 32, events) != checkpoint_root("ff" * 32, events)
