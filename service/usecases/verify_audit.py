"""Check the audit trail: every subject's chain, every checkpoint, the exported checkpoint.

1. The legacy segment (events from before per-subject chains): one chain in id order.
2. Every subject's chain: seq 1, 2, 3, ... each event's prev_hash the hash of the one
   before (GENESIS for the first), each hash recomputed from the content. Finds an
   edited event and an event deleted or inserted anywhere but at a chain's end.
3. Every checkpoint: numbered 1, 2, 3, ..., each covering from where the one before
   stopped, chained by prev_hash, its hash recomputed, its Ed25519 signature checked,
   and its Merkle root and count recomputed from the events in the database. Finds an
   event deleted at a chain's end (the newest), as long as a checkpoint covered it.
4. The newest checkpoint exported to AUDIT_CHECKPOINT_DIR: signed by a trusted key, and
   present in the database unchanged (so deleting checkpoints with the events shows).
The first problem found is reported; the walk streams, so memory stays flat.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.adapters import checkpoint_files, signing
from service.db import audit
from service.db.audit import GENESIS, audit_fields, event_hash
from service.usecases.context import Context
from service.usecases.write_checkpoint import BODY_FIELDS, checkpoint_body, checkpoint_root


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int  # events whose hash and link were checked
    broken_id: int | None = None  # the first bad event, when an event is to blame
    problem: str | None = None
    subjects: int = 0
    checkpoints: int = 0
    exported_seq: int | None = None  # the newest exported checkpoint, if one was found


class Broken(Exception):
    def __init__(self, problem: str, event_id: int | None = None) -> None:
        super().__init__(problem)
        self.problem, self.event_id = problem, event_id


EDITED = "its content does not match its hash (it was edited)"
UNLINKED = "its prev_hash does not match the event before it (an event was deleted or inserted)"


def verify_audit(ctx: Context, public_keys: Iterable[str] = ()) -> ChainReport:
    """`public_keys`: PEM texts of keys that signed older checkpoints, besides the
    configured one (`claims audit verify --public-key`)."""
    counts = {"checked": 0, "subjects": 0, "checkpoints": 0}
    exported: int | None = None
    try:
        keys = _trusted_keys(ctx, public_keys)
        with ctx.unit_of_work(read_only=True) as session:
            _legacy(audit.iter_legacy_chain(session), counts)
            _subjects(audit.iter_subject_chains(session), counts)
            stored = audit.checkpoints(session)
            _checkpoints(session, stored, keys, counts)
            exported = _exported(Path(ctx.config.audit_checkpoint_dir), stored, keys)
    except Broken as exc:
        return _report(counts, exc.event_id, exc.problem)
    return _report(counts, exported_seq=exported)


def _report(
    counts: dict[str, int],
    broken_id: int | None = None,
    problem: str | None = None,
    exported_seq: int | None = None,
) -> ChainReport:
    return ChainReport(
        ok=problem is None,
        checked=counts["checked"],
        broken_id=broken_id,
        problem=problem,
        subjects=counts["subjects"],
        checkpoints=counts["checkpoints"],
        exported_seq=exported_seq,
    )


def _legacy(rows: Iterator[Any], counts: dict[str, int]) -> None:
    prev = GENESIS
    for row in rows:
        if row.prev_hash != prev:
            raise Broken(UNLINKED, row.id)
        if event_hash(row.prev_hash, audit_fields(row)) != row.hash:
            raise Broken(EDITED, row.id)
        prev = row.hash
        counts["checked"] += 1


def _subjects(rows: Iterator[Any], counts: dict[str, int]) -> None:
    subject, prev, seq = None, GENESIS, 0
    for row in rows:
        if row.subject != subject:
            subject, prev, seq = row.subject, GENESIS, 0
            counts["subjects"] += 1
        if row.prev_hash != prev or row.seq != seq + 1:
            raise Broken(f"{UNLINKED}; subject {row.subject}, seq {row.seq}", row.id)
        if event_hash(row.prev_hash, audit_fields(row)) != row.hash:
            raise Broken(EDITED, row.id)
        prev, seq = row.hash, row.seq
        counts["checked"] += 1


def _checkpoints(
    session: Any, stored: list[Any], keys: dict[str, Any], counts: dict[str, int]
) -> None:
    prev_hash, prev_to = GENESIS, 0
    for cp in stored:
        name = f"checkpoint {cp.seq}"
        if cp.seq != counts["checkpoints"] + 1:
            raise Broken(f"checkpoint {counts['checkpoints'] + 1} is missing (next is {cp.seq})")
        if cp.prev_hash != prev_hash or cp.covers_from != prev_to:
            raise Broken(f"{name} does not follow the checkpoint before it")
        body = checkpoint_body({field: getattr(cp, field) for field in BODY_FIELDS})
        if hashlib.sha256(body).hexdigest() != cp.hash:
            raise Broken(f"{name} was edited (its hash does not match its fields)")
        _check_signature(name, body, cp.key_id, cp.signature, keys)
        events = audit.covered_events(session, cp.position, cp.covers_from, cp.covers_to)
        if (
            len(events) != cp.event_count
            or checkpoint_root(cp.prev_hash, [h for _, h in events]) != cp.root
        ):
            raise Broken(
                f"events covered by {name} were deleted, added or edited "
                f"(it covers {cp.event_count}, the database now has {len(events)} there)"
            )
        prev_hash, prev_to = cp.hash, cp.covers_to
        counts["checkpoints"] += 1
    if stored and stored[-1].position == "txid":
        stray = audit.unpositioned_events(session)
        if stray:
            raise Broken("events without a transaction id escape the checkpoints", stray[0])


def _check_signature(name: str, body: bytes, key_id: str, sig: str, keys: dict[str, Any]) -> None:
    key = keys.get(key_id)
    if key is None:
        raise Broken(
            f"{name} is signed by key {key_id}, which is not trusted here "
            "(configure AUDIT_SIGNING_KEY_FILE or pass --public-key)"
        )
    if not signing.verify(key, body, sig):
        raise Broken(f"{name}'s signature does not verify (it was forged or edited)")


def _exported(folder: Path, stored: list[Any], keys: dict[str, Any]) -> int | None:
    try:
        found = checkpoint_files.newest(folder)
    except ValueError as exc:
        raise Broken(str(exc)) from None
    if found is None:
        return None
    path, document = found
    try:
        body = checkpoint_body(document)
        seq, digest = int(document["seq"]), str(document["hash"])
        _check_signature(
            f"exported {path.name}", body, document["key_id"], str(document["signature"]), keys
        )
    except (KeyError, TypeError, ValueError):
        raise Broken(f"{path} is not a checkpoint file") from None
    if hashlib.sha256(body).hexdigest() != digest:
        raise Broken(f"{path} was edited (its hash does not match its fields)")
    match = next((cp for cp in stored if cp.seq == seq), None)
    if match is None:
        raise Broken(
            f"exported checkpoint {seq} is missing from the database: checkpoints, and the "
            "events they covered, were deleted"
        )
    if match.hash != digest:
        raise Broken(f"checkpoint {seq} in the database differs from the exported {path.name}")
    return seq


def _trusted_keys(ctx: Context, extra: Iterable[str]) -> dict[str, Any]:
    """The signing key's public half, AUDIT_VERIFY_KEYS_FILE's keys and `extra` (PEM)."""
    keys = {}
    texts = list(extra)
    try:
        if ctx.config.audit_verify_keys_file:
            texts.append(Path(ctx.config.audit_verify_keys_file).read_text())
        signer = signing.load_signer(ctx.config, create=False)
        publics = [key for text in texts for key in signing.load_public_keys(text)]
    except OSError as exc:
        raise Broken(f"AUDIT_VERIFY_KEYS_FILE: {exc.strerror}") from None
    except signing.SigningKeyError as exc:
        raise Broken(str(exc)) from None
    if signer is not None:
        publics.append(signer.public)
    for public in publics:
        keys[signing.key_id(public)] = public
    return keys


def audit_page(ctx: Context, filters: dict[str, object], limit: int) -> dict[str, object]:
    """GET /v1/audit: events in id order with their hashes; page on after_id."""
    from service.usecases.read_models import audit_document

    with ctx.unit_of_work(read_only=True) as session:
        rows = audit.audit_events(session, filters, limit)
        items = [
            audit_document(r)
            | {"subject": r.subject, "seq": r.seq, "hash": r.hash, "prev_hash": r.prev_hash}
            for r in rows
        ]
    return {"items": items, "next_after_id": items[-1]["id"] if len(items) == limit else None}
