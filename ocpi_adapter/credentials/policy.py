"""What the hub requires of a registering platform (credentials: required endpoints, 3003)."""

from __future__ import annotations

from typing import Any

from ocpi_adapter.errors import NoMatchingEndpoints
from ocpi_adapter.types import FUNCTIONAL_MODULES, InterfaceRole, ModuleID, Role
from ocpi_adapter.versions.discovery import endpoint_url

# Pull is required in OCPI (transport_and_format, Pull and Push): a party must be able to
# get back in sync, so each data owner has to offer its data's Sender interface.
REQUIRED_BY_ROLE: dict[Role, tuple[tuple[ModuleID, InterfaceRole], ...]] = {
    Role.CPO: ((ModuleID.LOCATIONS, InterfaceRole.SENDER),),
    Role.EMSP: ((ModuleID.TOKENS, InterfaceRole.SENDER),),
}


def check_endpoints(endpoints: list[dict[str, Any]], roles: list[dict[str, Any]]) -> None:
    if endpoint_url(endpoints, ModuleID.CREDENTIALS, None) is None:
        raise NoMatchingEndpoints("the platform's version details lack the credentials endpoint")
    if not any(endpoint_url(endpoints, m, None) for m in FUNCTIONAL_MODULES):
        raise NoMatchingEndpoints("the platform offers no functional module the hub routes")
    for role in roles:
        for module, interface in REQUIRED_BY_ROLE.get(Role(role["role"]), ()):
            if endpoint_url(endpoints, module, interface) is None:
                raise NoMatchingEndpoints(
                    f"a {role['role']} must offer the {module} {interface} interface"
                )
