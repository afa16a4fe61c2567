"""The hub's Ed25519 key: it signs what the hub vouches for (the CDR ledger's transactions and
tree heads), under one name, the ledger's origin.

The key is a PKCS#8 PEM file (``INCAR_LEDGER_KEY_FILE``, by default ``ledger-ed25519.pem`` in
``INCAR_DATA_DIR``), made on first use with permissions 0600 and refused if group or others
may read it: whoever holds it can sign tree heads that contradict the hub's. Two processes
making it at once end with one key (the file is linked into place, never overwritten).
Several hub processes on different machines must be given the same file.
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

_ATTACHED = "incar.hub_key"


class HubKeyError(RuntimeError):
    """The key file cannot be used (unreadable, not an Ed25519 key, open to others)."""


@dataclass
class HubKey:
    path: Path
    name: str  # the signer's name in a signed note: the ledger's origin
    _private: Ed25519PrivateKey | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @classmethod
    def of(cls, private: Ed25519PrivateKey, name: str) -> HubKey:
        """A key held in memory only (tests, tools)."""
        return cls(path=Path(os.devnull), name=name, _private=private)

    @property
    def private(self) -> Ed25519PrivateKey:
        if self._private is None:
            with self._lock:
                if self._private is None:
                    self._private = load_or_create(self.path)
        return self._private

    @functools.cached_property
    def public_bytes(self) -> bytes:
        return self.private.public_key().public_bytes_raw()

    def sign(self, message: bytes) -> bytes:
        return self.private.sign(message)


def load_or_create(path: Path) -> Ed25519PrivateKey:
    if not path.exists():
        _create(path)
    try:
        mode = path.stat().st_mode
        data = path.read_bytes()
    except OSError as error:
        raise HubKeyError(f"cannot read the hub key {path}: {error.strerror}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise HubKeyError(
            f"the hub key {path} may be read by others (mode {stat.filemode(mode)}): "
            f"chmod 600 it, or replace it if it was seen"
        )
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except ValueError:
        raise HubKeyError(f"the hub key {path} is not a PEM private key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise HubKeyError(f"the hub key {path} is not an Ed25519 key")
    return key


def _create(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    # Written whole under a private name, then linked: the key file never exists half
    # written, and of two processes making it at once the first link wins for both.
    draft = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(descriptor, "wb") as file:
            file.write(pem)
            file.flush()
            os.fsync(file.fileno())
        with contextlib.suppress(FileExistsError):  # another process's key came first
            os.link(draft, path)
    finally:
        draft.unlink(missing_ok=True)


def attach_key(sessions: async_sessionmaker[AsyncSession], key: HubKey) -> None:
    """Makes ``key`` the one every tx of ``sessions`` signs with (``Database.factory``)."""
    info: dict[Any, Any] = dict(sessions.kw.get("info") or {})
    info[_ATTACHED] = key
    sessions.configure(info=info)


def key_of(tx: AsyncSession) -> HubKey:
    key: HubKey | None = tx.info.get(_ATTACHED)
    if key is None:
        raise HubKeyError("no hub key is attached to this tx (see incar.hub_key.attach_key)")
    return key
