"""The keys of a party's objects as the rows store them, for the graph's entities.

OCPI's ids are CiStrings: the hub stores a party's objects under (country code, party id,
object id) upper-cased, and an entity's key as a client spells it is looked up that way. The
entity keeps the id as its CPO sent it (``sent_fields``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import strawberry

ObjectKey = tuple[str, str, str]


class OwnedRow(Protocol):
    """A stored object of a party: its key columns and its document as sent."""

    country_code: str
    party_id: str
    object_id: str
    data: dict[str, Any]


def object_key(country_code: str, party_id: str, object_id: str) -> ObjectKey:
    return country_code.upper(), party_id.upper(), object_id.upper()


def reference_key(key: Mapping[str, Any], id_field: str = "id") -> ObjectKey:
    """The stored key of a federation representation (its key fields as the gateway names
    them: ``countryCode partyId id``)."""
    return object_key(str(key["countryCode"]), str(key["partyId"]), str(key[id_field]))


def sent_fields(row: OwnedRow) -> dict[str, Any]:
    """An entity's key fields from its row: the id as the CPO sent it, not upper-cased."""
    return {
        "country_code": row.country_code,
        "party_id": row.party_id,
        "id": strawberry.ID(str(row.data.get("id", row.object_id))),
    }
