"""Ed25519 keys that sign audit checkpoints: the one module that imports `cryptography`.

Where the private key comes from, first found wins:
1. AUDIT_SIGNING_KEY: the key itself (PEM, or base64 of the 32-byte raw private key);
2. AUDIT_SIGNING_KEY_FILE: a PEM file (`openssl genpkey -algorithm ed25519 -out key.pem`);
3. neither: a development key in INSTANCE_DIR/audit-signing-key.pem, generated on first
   use with a warning. It sits beside the database, so whoever can edit the database can
   usually read it too and re-sign: production sets 1 or 2 (docs/supervisors.md).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from service.config import Config

log = logging.getLogger(__name__)
DEV_KEY_NAME = "audit-signing-key.pem"


class SigningKeyError(ValueError):
    """The configured key cannot be read or is not an Ed25519 private key."""


def key_id(public: Ed25519PublicKey) -> str:
    """16 hex digits of SHA-256 over the raw public key: names the key in checkpoints."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> str:
    return public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def load_public_key(text: str) -> Ed25519PublicKey:
    """A public key from PEM text (or a private key's PEM: its public half)."""
    data = text.encode()
    try:
        key: Any = serialization.load_pem_public_key(data)
    except ValueError:
        key = _private_from_text(text).public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise SigningKeyError("not an Ed25519 public key")
    return key


def load_public_keys(text: str) -> list[Ed25519PublicKey]:
    """Every public key in a PEM text of one or more blocks."""
    blocks = re.findall(r"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", text, re.DOTALL)
    if not blocks:
        raise SigningKeyError("no PEM key found")
    return [load_public_key(block) for block in blocks]


def verify(public: Ed25519PublicKey, data: bytes, signature_hex: str) -> bool:
    try:
        public.verify(bytes.fromhex(signature_hex), data)
        return True
    except (InvalidSignature, ValueError):
        return False


@dataclass(frozen=True)
class Signer:
    private: Ed25519PrivateKey
    origin: str  # "AUDIT_SIGNING_KEY", the file's path, or "generated <path>"

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()

    @property
    def key_id(self) -> str:
        return key_id(self.public)

    def sign(self, data: bytes) -> str:
        return self.private.sign(data).hex()


def load_signer(config: Config, *, create: bool = True) -> Signer | None:
    """The configured signing key; the development key (generated if `create`) when none
    is configured; None when there is none and `create` is false."""
    if config.audit_signing_key:
        return Signer(_private_from_text(config.audit_signing_key), "AUDIT_SIGNING_KEY")
    if config.audit_signing_key_file:
        path = Path(config.audit_signing_key_file)
        try:
            return Signer(_private_from_text(path.read_text()), str(path))
        except OSError as exc:
            raise SigningKeyError(f"AUDIT_SIGNING_KEY_FILE {path}: {exc.strerror}") from None
    path = Path(config.instance_dir) / DEV_KEY_NAME
    if not path.exists():
        if not create:
            return None
        _write_dev_key(path)
    if str(path) not in _warned:
        _warned.add(str(path))
        log.warning(
            "audit: no AUDIT_SIGNING_KEY or AUDIT_SIGNING_KEY_FILE set; using the DEVELOPMENT "
            "signing key %s (generated on first use). Checkpoints signed with it prove nothing "
            "against someone who can read that file: set AUDIT_SIGNING_KEY_FILE to a key kept "
            "off the database host (docs/supervisors.md)",
            path,
        )
    return Signer(_private_from_text(path.read_text()), f"development key {path}")


_warned: set[str] = set()  # development key paths already warned about in this process


def _write_dev_key(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(pem)
    try:
        os.link(tmp, path)  # complete or absent, never half-written
    except FileExistsError:  # another process generated it first: theirs is the key
        pass
    finally:
        tmp.unlink()


def _private_from_text(text: str) -> Ed25519PrivateKey:
    text = text.strip()
    try:
        if text.startswith("-----BEGIN"):
            key: Any = serialization.load_pem_private_key(text.encode(), password=None)
        else:
            key = Ed25519PrivateKey.from_private_bytes(base64.b64decode(text, validate=True))
    except (ValueError, TypeError, binascii.Error) as exc:
        raise SigningKeyError(f"unreadable audit signing key: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SigningKeyError("the audit signing key is not an Ed25519 key")
    return key
