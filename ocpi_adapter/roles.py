"""Which roles may use which interface of the hub, and to whom: the hub's role matrix.

OCPI names the usual implementer of each interface ("Typically implemented by market roles
like: ..."), and the smart charging topologies of mod_charging_profiles add the SCSP. Through a
hub, a party calls the hub's interface that stands for the receiving party's: a CPO pushes a
Location to the hub's locations Receiver interface, an eMSP pulls Locations from the hub's
locations Sender interface. So each cell below reads: a party whose role is in ``senders`` may
call ``method`` on the hub's ``interface`` of ``module``, and the request may reach a party
whose role is in ``receivers`` (named in OCPI-to, found by open routing, or as a broadcast).

Where the spec is silent (NSP, NAP, OTHER), the rule is hub policy (docs/policies.md, Roles):
they consume what is public, Locations and Tariffs; OTHER, which transport_and_format counts
as an eMSP type of role whose broadcasts reach CPOs only, also issues Tokens. An SCSP also
receives Sessions (it "depends on the CPO sending session information"), pulls them, and sends
charging profiles. Nothing else is allowed: anything not listed is refused with 2001.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from ocpi_adapter.types import InterfaceRole, ModuleID, Role

SENDER, RECEIVER = InterfaceRole.SENDER, InterfaceRole.RECEIVER


@dataclass(frozen=True, slots=True)
class Use:
    senders: frozenset[Role]  # who may call this method on this interface of the hub
    receivers: frozenset[Role]  # whom the request may reach


def _use(senders: set[Role], receivers: set[Role]) -> Use:
    return Use(frozenset(senders), frozenset(receivers))


CPO = {Role.CPO}
EMSP = {Role.EMSP}
# Consumers of what a CPO publishes for everyone (mod_locations and mod_tariffs: "eMSP and NSP";
# a NAP is a national database of Locations; the spec counts OTHER as an eMSP type of role).
PUBLIC = {Role.EMSP, Role.NSP, Role.NAP, Role.SCSP, Role.OTHER}
# Who issues Tokens: the eMSP, and OTHER, which transport_and_format counts as "an eMSP type
# of role" whose broadcasts reach CPOs only.
TOKEN_ISSUERS = {Role.EMSP, Role.OTHER}
# Who receives a CPO's Sessions (mod_sessions Receiver: "eMSP and SCSP").
SESSION_PARTIES = {Role.EMSP, Role.SCSP}
# Who sends charging profiles (mod_charging_profiles Sender: "SCSP", and the eMSP topology).
PROFILE_SENDERS = {Role.EMSP, Role.SCSP}

MATRIX: Final[Mapping[tuple[ModuleID, InterfaceRole, str], Use]] = MappingProxyType(
    {
        # A CPO pushes its Locations and Tariffs, and GETs the copy a receiver keeps.
        (ModuleID.LOCATIONS, RECEIVER, "GET"): _use(CPO, PUBLIC),
        (ModuleID.LOCATIONS, RECEIVER, "PUT"): _use(CPO, PUBLIC),
        (ModuleID.LOCATIONS, RECEIVER, "PATCH"): _use(CPO, PUBLIC),
        (ModuleID.LOCATIONS, SENDER, "GET"): _use(PUBLIC, CPO),
        (ModuleID.TARIFFS, RECEIVER, "GET"): _use(CPO, PUBLIC),
        (ModuleID.TARIFFS, RECEIVER, "PUT"): _use(CPO, PUBLIC),
        (ModuleID.TARIFFS, RECEIVER, "DELETE"): _use(CPO, PUBLIC),
        (ModuleID.TARIFFS, SENDER, "GET"): _use(PUBLIC, CPO),
        # Sessions: from the CPO to the eMSP of the session (or an SCSP); preferences back.
        (ModuleID.SESSIONS, RECEIVER, "GET"): _use(CPO, SESSION_PARTIES),
        (ModuleID.SESSIONS, RECEIVER, "PUT"): _use(CPO, SESSION_PARTIES),
        (ModuleID.SESSIONS, RECEIVER, "PATCH"): _use(CPO, SESSION_PARTIES),
        (ModuleID.SESSIONS, SENDER, "GET"): _use(SESSION_PARTIES, CPO),
        # mod_sessions: charging preferences are the driver's, sent by the driver's eMSP.
        (ModuleID.SESSIONS, SENDER, "PUT"): _use(EMSP, CPO),
        # CDRs: from the CPO to the eMSP; the CPO GETs the eMSP's copy through its hub URL.
        (ModuleID.CDRS, RECEIVER, "POST"): _use(CPO, EMSP),
        (ModuleID.CDRS, RECEIVER, "GET"): _use(CPO, EMSP),
        (ModuleID.CDRS, SENDER, "GET"): _use(EMSP, CPO),
        # Tokens: from the eMSP (or an OTHER, "an eMSP type of role") to CPOs; CPOs pull
        # them and ask for real-time authorization.
        (ModuleID.TOKENS, RECEIVER, "GET"): _use(TOKEN_ISSUERS, CPO),
        (ModuleID.TOKENS, RECEIVER, "PUT"): _use(TOKEN_ISSUERS, CPO),
        (ModuleID.TOKENS, RECEIVER, "PATCH"): _use(TOKEN_ISSUERS, CPO),
        (ModuleID.TOKENS, SENDER, "GET"): _use(CPO, TOKEN_ISSUERS),
        (ModuleID.TOKENS, SENDER, "POST"): _use(CPO, TOKEN_ISSUERS),
        # Commands: the eMSP commands the CPO; the CPO's result comes back through a hub URL.
        (ModuleID.COMMANDS, RECEIVER, "POST"): _use(EMSP, CPO),
        (ModuleID.COMMANDS, SENDER, "POST"): _use(CPO, EMSP),
        # Charging profiles: an eMSP or SCSP sets them at the CPO; results and the active
        # profile come back to it.
        (ModuleID.CHARGING_PROFILES, RECEIVER, "GET"): _use(PROFILE_SENDERS, CPO),
        (ModuleID.CHARGING_PROFILES, RECEIVER, "PUT"): _use(PROFILE_SENDERS, CPO),
        (ModuleID.CHARGING_PROFILES, RECEIVER, "DELETE"): _use(PROFILE_SENDERS, CPO),
        (ModuleID.CHARGING_PROFILES, SENDER, "POST"): _use(CPO, PROFILE_SENDERS),
        (ModuleID.CHARGING_PROFILES, SENDER, "PUT"): _use(CPO, PROFILE_SENDERS),
    }
)

NOBODY: Final = Use(frozenset(), frozenset())


def use_of(module: ModuleID, interface: InterfaceRole, method: str) -> Use:
    """The cell for one interface method; one not in the matrix is open to nobody."""
    return MATRIX.get((module, interface, method), NOBODY)


def names(roles: frozenset[Role] | set[Role]) -> str:
    """Roles for a message, in the enum's order: "CPO", "EMSP, SCSP"."""
    return ", ".join(role.value for role in Role if role in roles) or "no role"
