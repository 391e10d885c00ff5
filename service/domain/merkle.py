"""The Merkle Tree Hash of RFC 9162 section 2.1.1 (Certificate Transparency v2, the same
tree as RFC 6962), over SHA-256.

    leaf  = SHA-256(0x00 || entry)
    node  = SHA-256(0x01 || left || right)
    MTH([]) = SHA-256(""); MTH(D[n]) splits at k, the largest power of two below n.

Entries are bytes; a checkpoint's entries are the previous checkpoint's hash and then
each covered audit event's hash (32 bytes each). Checked against the reference roots
of transparency-dev/merkle (tests/unit/test_merkle.py). Iterative and in-place, so a
checkpoint over a few million events costs one pass of SHA-256 per node.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def merkle_root(entries: Iterable[bytes]) -> bytes:
    """MTH over `entries` (raw entries, not yet leaf-hashed).

    Pairing neighbours level by level and carrying an odd last node up unchanged gives
    the same root as RFC 9162's recursive split: the left subtree of every split is a
    complete tree of 2^k leaves."""
    level = [leaf_hash(e) for e in entries]
    if not level:
        return EMPTY_ROOT
    while len(level) > 1:
        paired = [node_hash(level[i], level[i + 1]) for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]
