"""The scheduler's checkpoint step (write_checkpoint.checkpoint_due): off at 0 seconds,
nothing when nothing is new, then one signed checkpoint every AUDIT_CHECKPOINT_SECONDS
of the sweep's clock, exported as a file."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from service.usecases.record_claim_view import record_claim_view
from service.usecases.verify_audit import verify_audit
from service.usecases.write_checkpoint import checkpoint_due

pytestmark = pytest.mark.unit


def view(ctx) -> None:
    record_claim_view(ctx, "c-1", actor="sue", via="user", role="supervisor", source=None)


def test_a_checkpoint_when_due_at_the_sweeps_instant(ctx, clock):
    interval = ctx.config.audit_checkpoint_seconds
    assert (
        checkpoint_due(replace(ctx, config=replace(ctx.config, audit_checkpoint_seconds=0)))
        == "off"
    )
    assert checkpoint_due(ctx) == "-"  # nothing audited yet
    view(ctx)
    assert checkpoint_due(ctx) == 1
    exported = json.loads(
        (Path(ctx.config.audit_checkpoint_dir) / "checkpoint-00000001.json").read_text()
    )
    assert exported["created_at"] == clock.now().isoformat() and exported["event_count"] == 1
    view(ctx)
    clock.advance(seconds=interval - 1)
    assert checkpoint_due(ctx) == "-"  # not due yet
    clock.advance(seconds=1)
    assert checkpoint_due(ctx) == 2
    report = verify_audit(ctx)
    assert report.ok and report.checkpoints == 2 and report.exported_seq == 2, report
