"""A CDR's ledger entry: a BigchainDB (v2.0) CREATE transaction signed with the hub's key.

Its asset is ``{"data": {"cdr": <the CDR's JSON text>}}``: the text the CPO sent and the hub
stores and serves, as one string. Parsed into the asset instead, the CDR would be written
again by the format's serialiser (rapidjson, through floats), which cannot write every CDR
the hub accepts as sent (``1.50`` becomes ``1.5``, ``1E400`` has no float); as a string, a
party holding the CDR checks it against the entry byte for byte. No metadata, and Ed25519
signatures are deterministic, so one CDR text makes one transaction, one id.

The transaction's bytes are the format's canonical JSON (keys sorted, no whitespace, UTF-8):
the id is the SHA3-256 of that body with ``id`` null, the signature is over the SHA3-256 of
the body with ``id`` and the fulfillment null (bigchaindb-driver's rules). ``create`` writes
those bytes itself, being the hub's hot path (the driver prepares and fulfils in milliseconds:
deep copies and ASN.1 objects); ``create_with_driver`` and ``verify`` use the driver, and the
tests hold ``create`` to the driver's bytes. ``verify_fast`` checks without the driver,
held to ``verify`` the same way.
"""

from __future__ import annotations

import base64
import functools
import hashlib
from dataclasses import dataclass
from typing import Any

import base58
import rapidjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from incar.hub_key import HubKey

# The driver (with cryptoconditions and pyasn1) is imported where it is used, not here: every
# process that can store a CDR imports this module, and the driver costs it most of a second
# of start-up where bytecode is not cached; the hot path needs none of it.


class InvalidTransaction(ValueError):
    """Not a valid CREATE transaction of a CDR (its id, its signature or its shape)."""


@dataclass(frozen=True, slots=True)
class SignedTransaction:
    id: str  # hex SHA3-256
    body: bytes  # the canonical JSON, as stored and as a leaf of the tree


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass(frozen=True)
class _Signer:
    """What of a key every transaction repeats: its base58 form and its output condition."""

    public: str
    condition_uri: str

    @classmethod
    def of(cls, public: bytes) -> _Signer:
        # The crypto-condition fingerprint of an Ed25519-SHA-256 condition: the DER of
        # SEQUENCE { publicKey [0] OCTET STRING } (draft-thomas-crypto-conditions-04, 8.5).
        fingerprint = hashlib.sha256(b"\x30\x22\x80\x20" + public).digest()
        uri = f"ni:///sha-256;{_b64url(fingerprint)}?fpt=ed25519-sha-256&cost=131072"
        return cls(public=base58.b58encode(public).decode(), condition_uri=uri)


_signers: dict[bytes, _Signer] = {}


def _signer(public: bytes) -> _Signer:
    signer = _signers.get(public)
    if signer is None:
        signer = _signers[public] = _Signer.of(public)
    return signer


def _body(cdr: str, signer: _Signer, *, fulfillment: str | None, tx_id: str | None) -> str:
    """The canonical body, keys in sorted order, as the driver's ``serialize`` writes it."""
    asset = rapidjson.dumps(cdr, ensure_ascii=False)  # the driver's string escapes
    fulfilled = "null" if fulfillment is None else f'"{fulfillment}"'
    identified = "null" if tx_id is None else f'"{tx_id}"'
    return (
        f'{{"asset":{{"data":{{"cdr":{asset}}}}},"id":{identified},'
        f'"inputs":[{{"fulfillment":{fulfilled},"fulfills":null,'
        f'"owners_before":["{signer.public}"]}}],"metadata":null,"operation":"CREATE",'
        f'"outputs":[{{"amount":"1","condition":{{"details":{{"public_key":"{signer.public}",'
        f'"type":"ed25519-sha-256"}},"uri":"{signer.condition_uri}"}},'
        f'"public_keys":["{signer.public}"]}}],"version":"2.0"}}'
    )


def _fulfillment_prefix(public: bytes) -> bytes:
    """The DER of Ed25519Sha256Fulfillment [4] { publicKey [0], signature [1] } up to the
    signature's 64 bytes."""
    return b"\xa4\x64\x80\x20" + public + b"\x81\x40"


def create(cdr: str, key: HubKey) -> SignedTransaction:
    """The signed CREATE transaction of the CDR text ``cdr``."""
    public = key.public_bytes
    signer = _signer(public)
    message = hashlib.sha3_256(_body(cdr, signer, fulfillment=None, tx_id=None).encode())
    signature = key.sign(message.digest())
    fulfillment = _b64url(_fulfillment_prefix(public) + signature)
    unidentified = _body(cdr, signer, fulfillment=fulfillment, tx_id=None)
    tx_id = hashlib.sha3_256(unidentified.encode()).hexdigest()
    body = _body(cdr, signer, fulfillment=fulfillment, tx_id=tx_id)
    return SignedTransaction(id=tx_id, body=body.encode())


def create_with_driver(cdr: str, key: HubKey) -> SignedTransaction:
    """``create`` by bigchaindb-driver's prepare and fulfil: the reference for ``create``."""
    from bigchaindb_driver.common.utils import serialize
    from bigchaindb_driver.offchain import fulfill_transaction, prepare_transaction

    private = base58.b58encode(key.private.private_bytes_raw()).decode()
    prepared = prepare_transaction(
        operation="CREATE",
        signers=base58.b58encode(key.public_bytes).decode(),
        asset={"data": {"cdr": cdr}},
    )
    signed = fulfill_transaction(prepared, private_keys=private)
    return SignedTransaction(id=signed["id"], body=serialize(signed).encode())


def verify_fast(body: bytes, *, public: bytes) -> str:
    """``verify`` without the driver, for a verifier that checks a million entries: the
    body must be byte for byte the one ``create`` writes for its CDR text (so canonical and
    of the hub's key), its id the SHA3-256 of its body, its signature valid (Ed25519 by
    ``cryptography``, over the SHA3-256 of the body without id and fulfillment). The tests
    hold it to ``verify`` on valid and on changed transactions."""
    try:
        data: Any = rapidjson.loads(body)
    except (rapidjson.JSONDecodeError, UnicodeDecodeError):
        raise InvalidTransaction("not JSON") from None
    if not isinstance(data, dict):
        raise InvalidTransaction("not the CREATE transaction of a CDR")
    cdr = _cdr_of(data)
    signer = _signer(public)
    if data["inputs"][0].get("owners_before") != [signer.public]:
        raise InvalidTransaction("not signed by the hub's key")
    fulfillment, tx_id = data["inputs"][0].get("fulfillment"), data.get("id")
    if not isinstance(fulfillment, str) or not isinstance(tx_id, str):
        raise InvalidTransaction("not the CREATE transaction of a CDR")
    if _body(cdr, signer, fulfillment=fulfillment, tx_id=tx_id).encode() != body:
        raise InvalidTransaction("not the canonical serialisation of a transaction")
    unidentified = _body(cdr, signer, fulfillment=fulfillment, tx_id=None)
    if hashlib.sha3_256(unidentified.encode()).hexdigest() != tx_id:
        raise InvalidTransaction("its id is not the SHA3-256 of its body")
    try:
        der = base64.urlsafe_b64decode(fulfillment + "=" * (-len(fulfillment) % 4))
    except ValueError:
        raise InvalidTransaction("its fulfillment is not base64url") from None
    prefix = _fulfillment_prefix(public)
    if len(der) != len(prefix) + 64 or not der.startswith(prefix):
        raise InvalidTransaction("its fulfillment is not an Ed25519 one of the hub's key")
    message = hashlib.sha3_256(_body(cdr, signer, fulfillment=None, tx_id=None).encode())
    try:
        _public_key(public).verify(der[len(prefix) :], message.digest())
    except InvalidSignature:
        raise InvalidTransaction("the signature does not verify") from None
    return cdr


@functools.lru_cache(maxsize=8)
def _public_key(public: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(public)


def verify(body: bytes, *, public: bytes) -> str:
    """The CDR text of the transaction ``body``, which must be canonical, hold the id of its
    body and a valid signature of ``public`` (the driver checks both); else InvalidTransaction.
    """
    from bigchaindb_driver.common.transaction import Transaction
    from bigchaindb_driver.common.utils import serialize

    try:
        data: Any = rapidjson.loads(body)
    except (rapidjson.JSONDecodeError, UnicodeDecodeError):
        raise InvalidTransaction("not JSON") from None
    if not isinstance(data, dict) or serialize(data).encode() != body:
        raise InvalidTransaction("not the canonical serialisation of a transaction")
    cdr = _cdr_of(data)
    signer = _signer(public)
    if data["inputs"][0]["owners_before"] != [signer.public]:
        raise InvalidTransaction("not signed by the hub's key")
    try:
        Transaction.validate_id(data)
        valid = Transaction.from_dict(data).inputs_valid()
    except Exception as error:  # the driver raises its own and the ASN.1 parser's errors
        raise InvalidTransaction(f"rejected by the driver: {error}") from None
    if not valid:
        raise InvalidTransaction("the signature does not verify")
    return cdr


def _cdr_of(data: dict[str, Any]) -> str:
    asset = data.get("asset")
    inner = asset.get("data") if isinstance(asset, dict) else None
    cdr = inner.get("cdr") if isinstance(inner, dict) else None
    inputs = data.get("inputs")
    if (
        data.get("operation") != "CREATE"
        or data.get("version") != "2.0"
        or not isinstance(cdr, str)
        or set(inner or ()) != {"cdr"}
        or not isinstance(inputs, list)
        or len(inputs) != 1
        or not isinstance(inputs[0], dict)
    ):
        raise InvalidTransaction("not the CREATE transaction of a CDR")
    return cdr
