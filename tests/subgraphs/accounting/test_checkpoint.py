"""Signed tree heads as C2SP checkpoints: read and verified by tlog-scales, an independent
implementation of c2sp.org/tlog-checkpoint and signed-note, and by our own reader."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from tlog_scales.signing import PlainEd25519Signer, Vkey
from tlog_scales.tlog import Checkpoint as TheirCheckpoint

from incar.hub_key import HubKey
from subgraphs.accounting.ledger.checkpoint import (
    Checkpoint,
    InvalidCheckpoint,
    open_note,
    sign,
    verifier_key,
)
from subgraphs.accounting.ledger.merkle import leaf_hash

NAME = "incar/FI-ICR/cdrs"


@pytest.fixture
def key() -> HubKey:
    return HubKey.of(Ed25519PrivateKey.generate(), NAME)


def signed(key: HubKey, checkpoint: Checkpoint) -> str:
    return sign(checkpoint, name=key.name, sign=key.sign, public=key.public_bytes)


def test_a_checkpoint_is_read_and_verified_by_tlog_scales(key: HubKey) -> None:
    head = Checkpoint(origin=NAME, size=20852163, root=leaf_hash(b"x"))
    note = signed(key, head)
    text, root64 = note.split("\n\n")[0], base64.b64encode(head.root).decode()
    assert text == f"{NAME}\n20852163\n{root64}"

    theirs = TheirCheckpoint.from_text(note)
    theirs.verify(Vkey.from_string(verifier_key(NAME, key.public_bytes)))  # raises if not
    assert (theirs.origin, theirs.size, theirs.root_hash) == (NAME, head.size, head.root)
    assert open_note(note, verifier_key(NAME, key.public_bytes)) == head


def test_the_key_id_and_signature_are_those_tlog_scales_makes(key: HubKey) -> None:
    head = Checkpoint(origin=NAME, size=0, root=bytes(32))
    theirs = TheirCheckpoint.make_signed(
        NAME, 0, bytes(32), [PlainEd25519Signer(NAME, key.private)]
    )
    assert theirs.serialize() == signed(key, head)  # Ed25519 signatures are deterministic
    assert theirs.signatures[0].serialize().startswith(f"\u2014 {NAME} ")


def test_a_note_signed_by_another_key_or_changed_is_refused(key: HubKey) -> None:
    verifier = verifier_key(NAME, key.public_bytes)
    note = signed(key, Checkpoint(origin=NAME, size=5, root=leaf_hash(b"a")))
    other = HubKey.of(Ed25519PrivateKey.generate(), NAME)
    with pytest.raises(InvalidCheckpoint, match="no signature"):
        open_note(signed(other, Checkpoint(origin=NAME, size=5, root=leaf_hash(b"a"))), verifier)
    with pytest.raises(InvalidCheckpoint, match="does not verify"):
        open_note(note.replace("\n5\n", "\n6\n"), verifier)
    with pytest.raises(InvalidCheckpoint):
        open_note(note.replace("\n\n", "\n"), verifier)


def test_unknown_signatures_are_ignored_as_the_spec_asks(key: HubKey) -> None:
    witness = HubKey.of(Ed25519PrivateKey.generate(), "witness.example/w1")
    head = Checkpoint(origin=NAME, size=7, root=leaf_hash(b"b"))
    cosigned = signed(key, head) + signed(witness, head).split("\n\n")[1]
    assert open_note(cosigned, verifier_key(NAME, key.public_bytes)) == head
    assert open_note(cosigned, verifier_key(witness.name, witness.public_bytes)) == head


@pytest.mark.parametrize("name", ["", "with space", "a+b", "tab\there"])
def test_a_signer_name_has_no_space_or_plus(key: HubKey, name: str) -> None:
    with pytest.raises(ValueError, match="name"):
        sign(
            Checkpoint(origin=NAME, size=1, root=bytes(32)),
            name=name,
            sign=key.sign,
            public=key.public_bytes,
        )
