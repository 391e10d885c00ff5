"""Write a signed checkpoint of the audit trail.

A checkpoint is a Merkle root (RFC 9162, service/domain/merkle.py) over the previous
checkpoint's hash and then every event appended since that checkpoint, in id order,
with the count and the range of positions it covers; the canonical JSON of these
fields is hashed and signed with the Ed25519 key from the settings
(service/adapters/signing.py), stored in `audit_checkpoints` and exported as a file
to AUDIT_CHECKPOINT_DIR (service/adapters/checkpoint_files.py).

Which events: those at positions [previous covers_to, horizon). On PostgreSQL the
position is the writing transaction's id and the horizon the oldest transaction
still running, so an event whose transaction commits after the checkpoint - even
one with a lower id than events already covered - falls in the next checkpoint,
never in none. An old open transaction holds the horizon back (the checkpoint then
covers less, never skips). On SQLite the position is the event id (see
service/db/audit.py).

The scheduler calls `checkpoint_due` on every sweep (worker/scheduler.py); a checkpoint
is written when the last is AUDIT_CHECKPOINT_SECONDS old and there is something new.
`claims audit checkpoint` writes one now.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from service.adapters import checkpoint_files, signing
from service.db import audit
from service.db.errors import Conflict
from service.domain.merkle import merkle_root
from service.usecases.context import Context

FORMAT = "claims-audit-checkpoint/1"
BODY_FIELDS = (
    "seq",
    "created_at",
    "position",
    "covers_from",
    "covers_to",
    "event_count",
    "root",
    "prev_hash",
    "key_id",
)


def checkpoint_body(values: Mapping[str, Any]) -> bytes:
    """The bytes that are hashed and signed: canonical JSON of BODY_FIELDS."""
    fields = {name: values[name] for name in BODY_FIELDS}
    if isinstance(fields["created_at"], datetime):  # as the database gives it back: UTC
        fields["created_at"] = fields["created_at"].astimezone(UTC).isoformat()
    fields["format"] = FORMAT
    return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()


def checkpoint_root(prev_hash: str, event_hashes: list[str]) -> str:
    return merkle_root([bytes.fromhex(prev_hash), *map(bytes.fromhex, event_hashes)]).hex()


def checkpoint_document(values: Mapping[str, Any]) -> dict[str, Any]:
    """What the exported file holds: the body's fields, its hash and its signature."""
    document: dict[str, Any] = json.loads(checkpoint_body(values))
    document |= {"hash": values["hash"], "signature": values["signature"]}
    return document


def write_checkpoint(
    ctx: Context, *, force: bool = False, signer: signing.Signer | None = None
) -> dict[str, Any] | None:
    """Write a checkpoint if one is due (`force`: if anything is new); returns the
    exported document, or None when nothing was written."""
    interval = timedelta(seconds=ctx.config.audit_checkpoint_seconds)
    folder = Path(ctx.config.audit_checkpoint_dir)
    now = ctx.clock.now()
    with ctx.unit_of_work() as session:
        horizon = audit.checkpoint_horizon(session)  # first: before this transaction writes
        last = audit.last_checkpoint(session)
        if last is not None and not force and now - last.created_at < interval:
            _export_if_missing(folder, last, signer or signing.load_signer(ctx.config))
            return None
        low = last.covers_to if last is not None else 0
        kind = audit.position_kind(session)
        events = audit.covered_events(session, kind, low, horizon) if horizon > low else []
        if not events:
            return None
        signer = signer or signing.load_signer(ctx.config)
        assert signer is not None  # load_signer creates the development key if need be
        prev = last.hash if last is not None else audit.GENESIS
        values: dict[str, Any] = {
            "seq": (last.seq + 1) if last is not None else 1,
            "created_at": now,
            "position": kind,
            "covers_from": low,
            "covers_to": horizon,
            "event_count": len(events),
            "root": checkpoint_root(prev, [h for _, h in events]),
            "prev_hash": prev,
            "key_id": signer.key_id,
        }
        body = checkpoint_body(values)
        values |= {"hash": hashlib.sha256(body).hexdigest(), "signature": signer.sign(body)}
        try:
            audit.add_checkpoint(session, values)
            session.commit()
        except Conflict:  # another scheduler wrote this one first
            return None
    document = checkpoint_document(values)
    checkpoint_files.write(folder, document, signing.public_pem(signer.public))
    return document


def _export_if_missing(folder: Path, last: Any, signer: signing.Signer | None) -> None:
    """A checkpoint committed but not exported (the disk was full, the process died)."""
    if checkpoint_files.exists(folder, last.seq):
        return
    values = {name: getattr(last, name) for name in (*BODY_FIELDS, "hash", "signature")}
    same_key = signer is not None and signer.key_id == last.key_id
    public = signing.public_pem(signer.public) if signer and same_key else None
    checkpoint_files.write(folder, checkpoint_document(values), public)


def checkpoint_due(ctx: Context) -> int | str:
    """The scheduler's step: the new checkpoint's number, "-" if none was due, "off" when
    AUDIT_CHECKPOINT_SECONDS is 0."""
    if ctx.config.audit_checkpoint_seconds <= 0:
        return "off"
    written = write_checkpoint(ctx)
    return int(written["seq"]) if written else "-"
