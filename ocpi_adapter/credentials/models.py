"""credentials.asciidoc: the Credentials object and the CredentialsRole class."""

from __future__ import annotations

from typing import Annotated

from pydantic import AfterValidator, Field

from ocpi_adapter.common_models import URL, CiString, OcpiModel, String, rule_error
from ocpi_adapter.locations.models import BusinessDetails
from ocpi_adapter.types import Role

TOKEN = r"^[\x21-\x7e]*$"
"""The token: "printable non-whitespace ASCII characters" (U+0021 to U+007E)."""


class CredentialsRole(OcpiModel):
    role: Role
    business_details: BusinessDetails
    party_id: Annotated[str, CiString(3)]
    country_code: Annotated[str, CiString(2)]


def _unique_roles(roles: list[CredentialsRole]) -> list[CredentialsRole]:
    seen: set[tuple[str, str, str]] = set()
    for role in roles:
        # party_id and country_code are CiStrings: compared without regard to case.
        key = (role.role, role.party_id.upper(), role.country_code.upper())
        if key in seen:
            raise rule_error(
                f"role {role.role} of {role.country_code}/{role.party_id} is listed twice;"
                " every role needs a unique combination of role, party_id and country_code"
            )
        seen.add(key)
    return roles


class Credentials(OcpiModel):
    token: Annotated[str, String(64, TOKEN)]
    url: URL
    roles: Annotated[list[CredentialsRole], Field(min_length=1), AfterValidator(_unique_roles)]
