"""A CDR's ledger transaction: ours is byte for byte the one bigchaindb-driver prepares and
fulfils, and the driver validates it; the fast check without the driver agrees with it."""

from __future__ import annotations

import random

import pytest
import rapidjson
from bigchaindb_driver.common.transaction import Transaction
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from incar.hub_key import HubKey
from subgraphs.accounting.ledger.transactions import (
    InvalidTransaction,
    create,
    create_with_driver,
    verify,
    verify_fast,
)

CDRS = [
    '{"id":"C1","total_energy":12.5}',
    # The text as a CPO may send it: spaces, a literal no float keeps, escapes, non-ASCII.
    '{"id" : "C2",  "total_energy": 1E400, "x": 1.50, "name": "Café \\u00e9\\n\\"q\\""}',
    '{"id":"C3","note":"\u2028\u2029\u007f\ud7ff\U0001f50c"}',
    '{\n\t"id": "C4"\n}',
    "{}",
]


@pytest.fixture(scope="module")
def key() -> HubKey:
    return HubKey.of(Ed25519PrivateKey.generate(), "incar/FI-ICR/cdrs")


@pytest.mark.parametrize("cdr", CDRS)
def test_the_fast_path_writes_the_drivers_bytes(key: HubKey, cdr: str) -> None:
    assert create(cdr, key) == create_with_driver(cdr, key)


def test_the_fast_path_writes_the_drivers_bytes_for_random_texts(key: HubKey) -> None:
    rng = random.Random(5)
    alphabet = [chr(c) for c in (*range(0x20), *range(0x20, 0x7F), 0xE9, 0x2028, 0xFFFD)]
    for _ in range(200):
        cdr = "".join(rng.choice(alphabet) for _ in range(rng.randrange(60)))
        assert create(cdr, key) == create_with_driver(cdr, key), repr(cdr)


@pytest.mark.parametrize("cdr", CDRS)
def test_the_driver_validates_the_transaction_and_it_holds_the_text(key: HubKey, cdr: str) -> None:
    signed = create(cdr, key)
    data = rapidjson.loads(signed.body)
    Transaction.validate_id(data)
    assert Transaction.from_dict(data).inputs_valid()
    assert data["id"] == signed.id
    assert data["asset"] == {"data": {"cdr": cdr}}
    assert verify(signed.body, public=key.public_bytes) == cdr


def test_one_text_makes_one_transaction(key: HubKey) -> None:
    assert create(CDRS[0], key) == create(CDRS[0], key)
    assert create(CDRS[0], key).id != create(CDRS[0] + " ", key).id


def test_a_changed_or_foreign_transaction_is_refused(key: HubKey) -> None:
    body = create(CDRS[0], key).body
    changed = body.replace(b"12.5", b"13.5")
    with pytest.raises(InvalidTransaction, match="driver"):
        verify(changed, public=key.public_bytes)
    other = HubKey.of(Ed25519PrivateKey.generate(), key.name)
    with pytest.raises(InvalidTransaction, match="hub's key"):
        verify(create(CDRS[0], other).body, public=key.public_bytes)
    with pytest.raises(InvalidTransaction, match="canonical"):
        verify(body.replace(b'{"asset"', b'{ "asset"'), public=key.public_bytes)
    with pytest.raises(InvalidTransaction, match="JSON"):
        verify(body[:-1], public=key.public_bytes)


def _changed(body: bytes, key: HubKey) -> list[bytes]:
    """The transaction ``body`` changed in the ways a forger would: the CDR, the id made to
    fit, the signature, the key, the spelling."""
    data = rapidjson.loads(body)
    other = create(CDRS[0] + " ", key)
    recomputed = {**data, "asset": {"data": {"cdr": data["asset"]["data"]["cdr"] + " "}}}
    fulfillment = data["inputs"][0]["fulfillment"]
    flipped = fulfillment[:-3] + ("A" if fulfillment[-3] != "A" else "B") + fulfillment[-2:]
    stranger = create(CDRS[0], HubKey.of(Ed25519PrivateKey.generate(), key.name)).body
    return [
        body.replace(b'"cdr":"', b'"cdr":" '),
        body.replace(data["id"].encode(), other.id.encode()),
        body.replace(fulfillment.encode(), flipped.encode()),
        body.replace(b'"version":"2.0"', b'"version":"2.1"'),
        body.replace(b'{"asset"', b'{ "asset"'),
        rapidjson.dumps(recomputed, sort_keys=True).encode(),
        stranger,
        body[:-1],
        b"[]",
    ]


def test_the_fast_check_accepts_and_refuses_as_the_driver_does(key: HubKey) -> None:
    for cdr in CDRS:
        body = create(cdr, key).body
        assert verify_fast(body, public=key.public_bytes) == verify(body, public=key.public_bytes)
        for changed in _changed(body, key):
            with pytest.raises(InvalidTransaction):
                verify(changed, public=key.public_bytes)
            with pytest.raises(InvalidTransaction):
                verify_fast(changed, public=key.public_bytes)
