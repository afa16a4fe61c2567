"""Conformance check 59 over real HTTP: the spec's examples pass through the hub unchanged.

Every file of ``spec-2.2.1-d2/examples/`` that is a request body of a functional module is sent
by a registered StrictPeer (the owner of the object) to the hub, addressed to another registered
StrictPeer; the receiving peer must get it byte for byte. The two response envelopes of
transport_and_format are answered by the receiving peer and must reach the requester byte for
byte. Where ``examples-index.json`` names the request an example belongs to, its method, module
and URL are used (mapped onto the hub's Receiver interface); whole objects (a Location, a Tariff,
a Session, a CDR, a Token) go where their owner pushes them: PUT on the object's own URL at the
Receiver interface, a CDR POSTed to the Receiver endpoint.

The two defective examples are relayed untouched in transparent mode and refused with 2001,
nothing forwarded, in validating mode (docs/policies.md, Validation). The in-process checks of
the validation layer are tests/ocpi_adapter/test_models_spec_examples.py.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.responses import Response

from tests.conformance.support import Party, addressed, assert_envelope, register_all
from tests.peers.strict.peer import Received, StrictPeer, running_peer
from tests.support.hub import HubUnderTest, running_hub
from tests.support.shared import SHARED as SHARED_ROOT

SHARED = SHARED_ROOT / "ocpi"
EXAMPLES = SHARED / "spec-2.2.1-d2" / "examples"
INDEX: list[dict[str, Any]] = json.loads((SHARED / "examples-index.json").read_text("utf-8"))
NOTES = {entry["file"]: entry for entry in INDEX}

DEFECTIVE = frozenset({"location_put_example_add_evse.json", "tariff_put_example.json"})
MODES = ("transparent", "validating")

# The party that receives every push: an eMSP for CPO data, a CPO for tokens (one platform).
RECEIVING_EMSP: Party = ("NL", "TST")  # the eMSP of the Session examples' cdr_token
RECEIVING_CPO: Party = ("NL", "RCP")

# "PATCH To URL: https://www.server.com/ocpi/emsp/2.2/locations/NL/TNM/1012" and
# "PATCH https://www.server.com/ocpi/cpo/2.2/sessions/NL/TNM/101"
REQUEST = re.compile(
    r"^(?P<method>GET|PUT|PATCH|POST|DELETE)\s+(?:To URL:\s*)?https?://[^/]+/ocpi/"
    r"(?:cpo|emsp)/2\.2/(?P<module>\w+)/(?P<suffix>\S+)$"
)
# Whole objects without a request in the index: where their owner pushes them.
OBJECT_MODULE = {
    "Location": "locations",
    "Session": "sessions",
    "CDR": "cdrs",
    "Tariff": "tariffs",
    "TariffRestrictions": "tariffs",  # each file is a whole Tariff
    "Token": "tokens",
}
# Modules whose objects an eMSP owns and pushes to CPOs; the others' owner is the CPO.
EMSP_OWNED = frozenset({"tokens"})

NOT_A_FUNCTIONAL_BODY = {
    "credentials_example.json": "Credentials: the registration handshake, ended at the hub",
    "credentials_example2.json": "Credentials: the registration handshake, ended at the hub",
    "credentials_example3.json": "Credentials: the registration handshake, ended at the hub",
    "credentials_example4.json": "Credentials: the registration handshake, ended at the hub",
    "location_energymix_example_complete.json": "a fragment of an EVSE (energy_mix)",
    "location_energymix_example_energy_provider.json": "a fragment of an EVSE (energy_mix)",
    "location_energymix_example_simple.json": "a fragment of an EVSE (energy_mix)",
    "location_hours_247_open_exception_closing.json": "a fragment of a Location (Hours)",
    "location_hours_opening_hours_with_exceptional_closing.json": "a fragment (Hours)",
    "location_hours_opening_hours_with_exceptional_opening.json": "a fragment (Hours)",
    "location_regularhours_example.json": "a fragment of a Location (opening_times)",
    "type_displaytext_example.json": "a fragment (DisplayText)",
    "transport_and_format_version_details_example.json": "versions module, answered by the hub",
    "transport_and_format_version_info_example.json": "versions module, answered by the hub",
    "version_details_example.json": "versions module, answered by the hub",
    "version_details_example2.json": "versions module, answered by the hub",
    "versions_info_example.json": "versions module, answered by the hub",
}


@dataclass(frozen=True)
class Push:
    """A request example: who sends it, where, and to whom."""

    name: str
    method: str
    module: str
    suffix: str  # after the module's Receiver endpoint, "" for the endpoint itself
    sender: Party

    @property
    def to(self) -> Party:
        return RECEIVING_CPO if self.module in EMSP_OWNED else RECEIVING_EMSP

    @property
    def role(self) -> str:
        return "EMSP" if self.module in EMSP_OWNED else "CPO"

    @property
    def peer_path(self) -> str:
        return f"/{self.module}/receiver" + (f"/{self.suffix}" if self.suffix else "")


def _push_of(name: str) -> Push | None:
    entry = NOTES[name]
    requests = [use["request"] for use in entry["used_in"] if use["request"]]
    if requests:
        match = REQUEST.match(requests[0])
        assert match is not None, requests[0]
        # Every indexed request is a push to a Receiver interface; the sessions PATCH URL says
        # "cpo" but PATCH of a Session exists only at the eMSP's Receiver interface.
        suffix = match["suffix"].strip("/")
        cc, pid = suffix.split("/")[:2]
        return Push(name, match["method"], match["module"], suffix, (cc, pid))
    module = OBJECT_MODULE.get(entry["kind"])
    if module is None:
        return None
    body = json.loads((EXAMPLES / name).read_bytes())
    owner = (body["country_code"], body["party_id"])
    if module == "cdrs":
        return Push(name, "POST", module, "", owner)
    object_id = body["uid"] if module == "tokens" else body["id"]
    return Push(name, "PUT", module, f"{owner[0]}/{owner[1]}/{object_id}", owner)


FILES = sorted(p.name for p in EXAMPLES.glob("*.json"))
PUSHES = {name: push for name in FILES if (push := _push_of(name)) is not None}


@dataclass(frozen=True)
class Answer:
    """A response example: the request it answers, and who asks whom."""

    name: str
    module: str
    interface: str
    suffix: str
    requester: Party  # a role of the owners' platform when the owners ask
    owners_ask: bool  # else the receiving platform asks and the owners answer


ANSWERS = {
    # "Tokens GET Response with one Token object (CPO end-point)": the eMSP DE*TNM asks a CPO
    # what it holds of its Token.
    "transport_and_format_get_token_example.json": Answer(
        "transport_and_format_get_token_example.json",
        "tokens",
        "receiver",
        "DE/TNM/012345678",
        ("DE", "TNM"),
        owners_ask=True,
    ),
    # "Tokens GET Response with list of Token objects (eMSP end-point)": a CPO pulls the
    # Tokens of the eMSP NL*TNM.
    "transport_and_format_get_token_list_example.json": Answer(
        "transport_and_format_get_token_list_example.json",
        "tokens",
        "sender",
        "",
        RECEIVING_CPO,
        owners_ask=False,
    ),
}

EVERY_MODULE = {
    module: ["SENDER", "RECEIVER"] for module in ("locations", "sessions", "cdrs", "tariffs")
} | {"tokens": ["SENDER", "RECEIVER"], "hubclientinfo": ["RECEIVER"]}


def _owner_roles() -> list[tuple[str, str, str]]:
    roles = {(push.role, *push.sender) for push in PUSHES.values()}
    roles |= {("EMSP", "DE", "TNM"), ("EMSP", "NL", "TNM")}  # the two token GETs
    return sorted(roles)


@dataclass
class Network:
    hub: HubUnderTest
    owners: StrictPeer  # every owner of an example object, as one platform
    receiving: StrictPeer  # the eMSP NL*TST and the CPO NL*RCP


@contextlib.asynccontextmanager
async def network(mode: str) -> AsyncIterator[Network]:
    (role, cc, pid), *extra = _owner_roles()
    async with (
        running_hub(validation=mode) as hub,
        running_peer(
            role=role,
            country_code=cc,
            party_id=pid,
            extra_roles=extra,
            modules=EVERY_MODULE,
        ) as owners,
        running_peer(
            role="EMSP",
            country_code=RECEIVING_EMSP[0],
            party_id=RECEIVING_EMSP[1],
            extra_roles=[("CPO", *RECEIVING_CPO)],
            modules=EVERY_MODULE,
        ) as receiving,
    ):
        await register_all(hub, owners, receiving)
        yield Network(hub, owners, receiving)


@pytest.fixture(scope="module", params=MODES)
async def net(request: pytest.FixtureRequest) -> AsyncIterator[Network]:
    """One hub per validation mode for the whole module; each test starts with clean peers."""
    async with network(request.param) as running:
        yield running


@pytest.fixture
async def clean(net: Network) -> Network:
    await net.hub.settle()
    for peer in (net.owners, net.receiving):
        peer.received.clear()
        peer.handlers.clear()
    return net


def _from(party: Party) -> dict[str, str]:
    return {"OCPI-from-country-code": party[0], "OCPI-from-party-id": party[1]}


def _functional(peer: StrictPeer) -> list[Received]:
    return [r for r in peer.received if not r.path.startswith("/hubclientinfo/")]


@pytest.mark.conformance(59)
def test_check59_every_example_file_is_relayed_or_named_as_no_functional_body() -> None:
    tables = [set(PUSHES), set(ANSWERS), set(NOT_A_FUNCTIONAL_BODY)]
    assert sum(len(t) for t in tables) == len(set().union(*tables))
    assert set().union(*tables) == set(FILES)
    assert set(DEFECTIVE) <= set(PUSHES)
    # The indexed requests all became pushes, with the index's method and module.
    indexed = {e["file"] for e in INDEX if any(u["request"] for u in e["used_in"])}
    assert indexed <= set(PUSHES)


async def _push(net: Network, push: Push) -> tuple[bytes, dict[str, Any], list[Received]]:
    """Sends the example from its owner; returns what was sent, the envelope and what the
    receiving platform got of functional modules."""
    sent = (EXAMPLES / push.name).read_bytes()
    url = net.hub.endpoint(push.module, "receiver") + (f"/{push.suffix}" if push.suffix else "")
    answer = await net.owners.call(
        push.method, url, to=push.to, content=sent, headers=_from(push.sender)
    )
    await net.hub.settle()
    assert answer.status_code == 200, answer.text
    envelope = assert_envelope(answer)
    assert addressed(answer)[1] == push.sender
    assert _functional(net.owners) == []
    return sent, envelope, _functional(net.receiving)


def _assert_relayed(push: Push, sent: bytes, got: list[Received]) -> None:
    assert [(r.method, r.path, r.query) for r in got] == [(push.method, push.peer_path, "")]
    assert got[0].body == sent
    assert got[0].headers["content-type"] == "application/json"
    from_header = (got[0].headers["ocpi-from-country-code"], got[0].headers["ocpi-from-party-id"])
    assert from_header == push.sender
    assert (got[0].headers["ocpi-to-country-code"], got[0].headers["ocpi-to-party-id"]) == push.to


@pytest.mark.conformance(59)
@pytest.mark.parametrize("name", sorted(set(PUSHES) - DEFECTIVE))
async def test_check59_request_example_passes_through_unchanged(clean: Network, name: str) -> None:
    push = PUSHES[name]
    sent, envelope, got = await _push(clean, push)
    assert envelope["status_code"] == 1000, envelope
    _assert_relayed(push, sent, got)


@pytest.mark.conformance(59)
@pytest.mark.parametrize("name", sorted(DEFECTIVE))
async def test_check59_defective_example_is_relayed_or_refused_as_configured(
    clean: Network, name: str
) -> None:
    push = PUSHES[name]
    sent, envelope, got = await _push(clean, push)
    if clean.hub.settings.validation == "transparent":
        assert envelope["status_code"] == 1000, envelope
        _assert_relayed(push, sent, got)
    else:
        assert envelope["status_code"] == 2001, envelope
        assert "required field missing" in envelope["status_message"]
        assert got == []


@pytest.mark.conformance(59)
@pytest.mark.parametrize("name", sorted(ANSWERS))
async def test_check59_response_example_is_relayed_back_unchanged(
    clean: Network, name: str
) -> None:
    net, example = clean, ANSWERS[name]
    answered = (EXAMPLES / name).read_bytes()
    asker, responder = (
        (net.owners, net.receiving) if example.owners_ask else (net.receiving, net.owners)
    )
    to: Party = (
        RECEIVING_CPO if example.owners_ask else ("NL", "TNM")
    )  # the eMSP whose Tokens are listed
    peer_path = f"/{example.module}/{example.interface}" + (
        f"/{example.suffix}" if example.suffix else ""
    )
    responder.on(
        "GET",
        peer_path,
        lambda r: Response(answered, media_type="application/json"),
    )
    url = net.hub.endpoint(example.module, example.interface) + (
        f"/{example.suffix}" if example.suffix else ""
    )
    answer = await asker.call("GET", url, to=to, headers=_from(example.requester))
    await net.hub.settle()
    assert answer.status_code == 200
    assert answer.content == answered
    assert answer.headers["content-type"] == "application/json"
    assert addressed(answer) == (to, example.requester)
    got = _functional(responder)
    assert [(r.method, r.path) for r in got] == [("GET", peer_path)]
