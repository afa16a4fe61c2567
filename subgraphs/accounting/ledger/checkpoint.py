"""Signed tree heads: C2SP checkpoints (c2sp.org/tlog-checkpoint) in signed notes
(c2sp.org/signed-note), with a plain Ed25519 signature (type 0x01).

A checkpoint's text is the origin, the tree size and the base64 root hash, one a line. The
note appends a blank line and one signature line, ``— <name> base64(key ID || signature)``,
the signature being Ed25519 over the text. The key ID is the first four bytes of
SHA-256(name || 0x0A || 0x01 || public key), and a verifier names the key the way Go's
``golang.org/x/mod/sumdb/note`` does: ``<name>+<key ID in hex>+base64(0x01 || public key)``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ED25519 = b"\x01"
DASH = "\u2014"  # em dash, the start of a signature line
MAX_SIGNATURES = 16  # the least the spec lets a verifier accept


class InvalidCheckpoint(ValueError):
    """Not a checkpoint, or not one signed by the expected key."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def text(self) -> str:
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"


def check_name(name: str) -> None:
    if not name or "+" in name or any(c.isspace() for c in name):
        raise ValueError(f"a signer's name must be non-empty, without spaces or '+': {name!r}")


def key_id(name: str, public: bytes) -> bytes:
    return hashlib.sha256(name.encode() + b"\n" + ED25519 + public).digest()[:4]


def verifier_key(name: str, public: bytes) -> str:
    check_name(name)
    encoded = base64.b64encode(ED25519 + public).decode()
    return f"{name}+{key_id(name, public).hex()}+{encoded}"


def sign(
    checkpoint: Checkpoint, *, name: str, sign: Callable[[bytes], bytes], public: bytes
) -> str:
    """The signed note of ``checkpoint``; ``sign`` makes an Ed25519 signature of ``public``'s
    private key (the hub's key: ``HubKey.sign``)."""
    check_name(name)
    check_name(checkpoint.origin)
    text = checkpoint.text()
    signature = base64.b64encode(key_id(name, public) + sign(text.encode())).decode()
    return f"{text}\n{DASH} {name} {signature}\n"


def open_note(note: str, verifier: str) -> Checkpoint:
    """The checkpoint of ``note`` if the key ``verifier`` names signed it; else InvalidCheckpoint.

    Signatures of other keys are ignored, as the spec asks (witnesses' cosignatures)."""
    name, public = parse_verifier(verifier)
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise InvalidCheckpoint("a note has no control characters but newlines")
    text, separator, signatures = note.rpartition("\n\n")
    if not separator or not signatures.endswith("\n"):
        raise InvalidCheckpoint("a note is its text, a blank line and signature lines")
    text += "\n"
    lines = signatures[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise InvalidCheckpoint(f"more than {MAX_SIGNATURES} signatures")
    wanted = key_id(name, public)
    verified = False
    for line in lines:
        dash, _, rest = line.partition(" ")
        signer, _, encoded = rest.partition(" ")
        if dash != DASH or not signer or not encoded or " " in encoded:
            raise InvalidCheckpoint(f"not a signature line: {line!r}")
        blob = _b64(encoded)
        if signer != name or blob[:4] != wanted:
            continue
        try:
            Ed25519PublicKey.from_public_bytes(public).verify(blob[4:], text.encode())
        except InvalidSignature:
            raise InvalidCheckpoint(f"the signature of {name} does not verify") from None
        verified = True
    if not verified:
        raise InvalidCheckpoint(f"no signature of {name}+{wanted.hex()}")
    return _parse_text(text)


def _parse_text(text: str) -> Checkpoint:
    lines = text[:-1].split("\n")
    if len(lines) < 3 or not all(lines):
        raise InvalidCheckpoint("a checkpoint has an origin, a size and a root hash")
    origin, size, root = lines[:3]
    if not size.isdigit() or (size.startswith("0") and size != "0"):
        raise InvalidCheckpoint(f"not a tree size: {size!r}")
    digest = _b64(root)
    if len(digest) != 32:
        raise InvalidCheckpoint("the root hash is not 32 bytes")
    return Checkpoint(origin=origin, size=int(size), root=digest)


def parse_verifier(verifier: str) -> tuple[str, bytes]:
    """The signer's name and Ed25519 public key a verifier key names; else ValueError."""
    name, _, rest = verifier.partition("+")
    hex_id, _, encoded = rest.partition("+")
    key = _b64(encoded)
    if not name or len(key) != 33 or key[:1] != ED25519:
        raise ValueError(f"not an Ed25519 verifier key: {verifier!r}")
    if hex_id != key_id(name, key[1:]).hex():
        raise ValueError(f"the verifier key's ID does not match its key: {verifier!r}")
    return name, key[1:]


def _b64(encoded: str) -> bytes:
    try:
        return base64.b64decode(encoded, validate=True)
    except binascii.Error:
        raise InvalidCheckpoint(f"not base64: {encoded!r}") from None
