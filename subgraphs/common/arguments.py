"""Arguments that many fields take, described once: GraphiQL shows each argument's text, and
an id means nothing without the owner that the other two name (OCPI ids are unique per owner
only)."""

from __future__ import annotations

from typing import Annotated

import strawberry

CountryCode = Annotated[
    str,
    strawberry.argument(
        description="The owner's country code (OCPI country_code, ISO 3166-1 alpha-2)."
    ),
]
PartyId = Annotated[
    str, strawberry.argument(description="The owner's party id (OCPI party_id, 3 characters).")
]
First = Annotated[int, strawberry.argument(description="How many to return: from 1 to 100.")]
