"""Exported audit checkpoints: one small JSON file per checkpoint in AUDIT_CHECKPOINT_DIR.

`checkpoint-00000042.json` holds the signed body, its hash and its Ed25519 signature;
`audit-public-key-<key id>.pem` the public key that checks it. The folder is meant to be
copied off the database host (object storage with retention, another machine, a
printout): `claims audit verify` compares the newest file with the database.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

_NAME = re.compile(r"^checkpoint-([0-9]{8,})\.json$")
MAX_BYTES = 64 * 1024  # a checkpoint file is < 1 KiB; anything larger is not ours


def file_name(seq: int) -> str:
    return f"checkpoint-{seq:08d}.json"


def write(folder: Path, document: dict[str, Any], public_pem: str | None) -> Path:
    """Write the checkpoint file (atomically: complete or absent) and, when given, the
    public key that checks it."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / file_name(int(document["seq"]))
    _atomic(path, json.dumps(document, indent=2, sort_keys=True) + "\n")
    key_path = folder / f"audit-public-key-{document['key_id']}.pem"
    if public_pem and not key_path.exists():
        _atomic(key_path, public_pem)
    return path


def exists(folder: Path, seq: int) -> bool:
    return (folder / file_name(seq)).exists()


def newest(folder: Path) -> tuple[Path, dict[str, Any]] | None:
    """The exported checkpoint with the highest sequence number, parsed; None if none.
    Raises ValueError if that file is not a readable checkpoint."""
    if not folder.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    if not found:
        return None
    _, path = max(found)
    if path.stat().st_size > MAX_BYTES:
        raise ValueError(f"{path} is larger than a checkpoint can be")
    try:
        document = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"{path} is not readable JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not a checkpoint")
    return path, document


def _atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
