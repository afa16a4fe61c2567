"""bigchaindb-driver as the project installs it (uv.lock, with the overrides of pyproject.toml):
it imports on this Python and prepares, fulfils and validates a CREATE transaction."""

from __future__ import annotations

import hashlib

import pytest
import sha3
from bigchaindb_driver.common.exceptions import InvalidHash
from bigchaindb_driver.common.transaction import Transaction
from bigchaindb_driver.crypto import generate_keypair
from bigchaindb_driver.offchain import fulfill_transaction, prepare_transaction


def test_the_sha3_module_is_fips_202_sha3_as_hashlib_has_it() -> None:
    # pysha3 before 1.0 was Keccak (padding of the competition), which gives other digests.
    for data in (b"", b"abc", bytes(range(256)) * 3):
        assert sha3.sha3_256(data).digest() == hashlib.sha3_256(data).digest()


def test_the_driver_prepares_and_fulfils_a_create_transaction_it_validates() -> None:
    hub = generate_keypair()
    prepared = prepare_transaction(
        operation="CREATE",
        signers=hub.public_key,
        asset={"data": {"cdr": '{"id":"C1","total_cost":{"excl_vat":1.50}}'}},
    )
    assert prepared["id"] is None  # the id comes with the signature
    signed = fulfill_transaction(prepared, private_keys=hub.private_key)

    Transaction.validate_id(signed)  # the id is the SHA3-256 of the body
    transaction = Transaction.from_dict(signed)  # parses the fulfillment

    assert transaction.inputs_valid()  # the Ed25519 signature verifies
    assert transaction.to_dict() == signed
    assert signed["inputs"][0]["owners_before"] == [hub.public_key]


def test_the_driver_finds_a_changed_asset() -> None:
    hub = generate_keypair()
    prepared = prepare_transaction(
        operation="CREATE", signers=hub.public_key, asset={"data": {"cdr": '{"id":"C1"}'}}
    )
    signed = fulfill_transaction(prepared, private_keys=hub.private_key)
    tampered = {**signed, "asset": {"data": {"cdr": '{"id":"C2"}'}}}

    with pytest.raises(InvalidHash):
        Transaction.validate_id(tampered)
    # With an id made to fit, the signature still gives it away.
    rehashed = Transaction.from_dict({**tampered, "id": None})
    assert not rehashed.inputs_valid()
