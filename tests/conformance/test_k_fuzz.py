"""Conformance check 60: schema fuzzing of every hub module URL.

schemathesis generates requests from OpenAPI documents of the hub's functional modules (one per
module, its server the hub's module URL; see tests/conformance/hub_openapi.py for why they are
derived from the hub's own routes and pydantic models), both valid ones (positive mode, aligned
with the URL as an honest sender would be) and invalid ones (negative mode: wrong types, missing
fields and headers). They are sent over real HTTP with the fuzzing platform's Authorization
header and OCPI routing headers to a hub with two registered StrictPeers. Every answer must be
below 500 and an OCPI envelope (check 1); in validating mode, every request the hub forwarded to
a peer must carry a valid body (docs/policies.md, Validation).

Budget: a fixed number of examples per operation, derandomized, no shrinking, so the run is the
same every time and stays well under a minute on two cores.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis import Case, GenerationMode
from schemathesis.core.result import Ok
from starlette.types import ASGIApp, Receive, Scope, Send

from ocpi_adapter.modules import FUNCTIONAL
from ocpi_adapter.routing import checks
from ocpi_adapter.routing.operations import ModuleRoutes, Operation
from tests.conformance.hub_openapi import cap_arrays, module_document
from tests.conformance.support import (
    Party,
    assert_envelope,
    get_all,
    hub_party,
    register_all,
    token,
)
from tests.peers.strict.peer import Received, StrictPeer, running_peer
from tests.support.hub import HubUnderTest, running_hub
from tests.support.servers import serve

FuzzCase = Case[Any]

FUZZER: Party = ("NL", "FUZ")  # CPO and eMSP: may send on every interface
RECEIVER: Party = ("NL", "RCV")  # CPO and eMSP: may receive on every interface
UNKNOWN: Party = ("XX", "UNK")
HUB: Party = ("FI", "ICR")  # the hub's own party in tests (broadcast, GET All)
EXAMPLES_PER_OPERATION = 5  # per operation and generation mode
MAX_ITEMS = 2  # arrays in generated bodies
ALL_MODULES = {routes.module: ["SENDER", "RECEIVER"] for routes in FUNCTIONAL} | {
    "hubclientinfo": ["RECEIVER"]
}
WITH_BODY = frozenset({"POST", "PUT", "PATCH"})


GENERATION_BASE = "http://hub.invalid/ocpi/2.2.1"  # replaced by the hub's module URL per call


@dataclass(frozen=True)
class Fuzzed:
    """One generated request of one operation of one module."""

    routes: ModuleRoutes
    operation: Operation
    mode: GenerationMode
    case: FuzzCase


@dataclass
class Outcome:
    calls: int = 0
    statuses: Counter[tuple[int, int | None]] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)


def _operation_key(method: str, path: str) -> str:
    return f"{method.upper()} {path}"


def _path_of(operation: Operation) -> str:
    return f"/{operation.interface.path}" + "".join(f"/{s}" for s in operation.segments)


def _align(operation: Operation, case: FuzzCase) -> FuzzCase:
    """A positive case made consistent the way an honest sender's request is: the body names
    the object of the URL (the id percent-decoded, as the path carries it encoded), and
    OCPI-to names one party rather than a mix of two."""
    if isinstance(case.body, dict) and operation.client_owned:
        case.body["country_code"], case.body["party_id"] = FUZZER
        if operation.id_field is not None:
            encoded = case.path_parameters[operation.segments[-1][1:-1]]
            case.body[operation.id_field] = unquote(encoded)
    headers = case.headers
    if headers and headers.get("OCPI-to-country-code") and "OCPI-to-party-id" in headers:
        to = {cc: pid for cc, pid in (RECEIVER, HUB, UNKNOWN)}
        headers["OCPI-to-party-id"] = to[headers["OCPI-to-country-code"]]
    return case


def _examples(strategy: st.SearchStrategy[FuzzCase]) -> list[FuzzCase]:
    found: list[FuzzCase] = []

    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(case: FuzzCase) -> None:
        found.append(case)

    collect()
    return found


@functools.cache
def generated() -> tuple[Fuzzed, ...]:
    """Every operation's cases in both generation modes; the same (derandomized) every run,
    generated once and sent to the hub of each validation mode."""
    cases: list[Fuzzed] = []
    for routes in FUNCTIONAL:
        document = module_document(
            routes,
            base_url=f"{GENERATION_BASE}/{routes.module}",
            sender=FUZZER,
            receivers=[RECEIVER, HUB, UNKNOWN],
        )
        cap_arrays(document, MAX_ITEMS)
        schema = schemathesis.openapi.from_dict(document)
        operations = {
            _operation_key(
                op.method, f"/{op.interface.path}" + "".join(f"/{s}" for s in op.segments)
            ): op
            for op in routes.operations
        }
        for result in schema.get_all_operations():
            assert isinstance(result, Ok), result
            api = result.ok()
            operation = operations[_operation_key(api.method, api.path)]
            positive = api.as_strategy(GenerationMode.POSITIVE).map(
                functools.partial(_align, operation)
            )
            for case in _examples(positive):
                cases.append(Fuzzed(routes, operation, GenerationMode.POSITIVE, case))
            for case in _examples(api.as_strategy(GenerationMode.NEGATIVE)):
                cases.append(Fuzzed(routes, operation, GenerationMode.NEGATIVE, case))
    return tuple(cases)


def _headers(response: schemathesis.Response) -> list[tuple[str, str]]:
    return [(name, value) for name, values in response.headers.items() for value in values]


def _problem(case: FuzzCase, response: schemathesis.Response) -> str | None:
    """Why this answer breaks check 60 (a 5xx, or not an OCPI envelope), or None."""
    where = f"{case.method} {case.formatted_path} -> HTTP {response.status_code}"
    if response.status_code >= 500:
        return f"{where}: server error {response.content[:300]!r}"
    answer = httpx.Response(response.status_code, headers=_headers(response))
    answer._content = response.content
    try:
        assert_envelope(answer)
    except (AssertionError, ValueError, KeyError, TypeError) as error:
        return f"{where}: not an OCPI envelope ({error!r}): {response.content[:300]!r}"
    return None


def _send(hub_url: str, auth: dict[str, str]) -> Outcome:
    """Runs in a worker thread: the hub and the peers keep being served by the test's loop."""
    outcome = Outcome()
    for fuzzed in generated():
        base_url = f"{hub_url}/ocpi/2.2.1/{fuzzed.routes.module}"  # --url: the module URL
        response = fuzzed.case.call(base_url=base_url, headers=auth, timeout=30)
        outcome.calls += 1
        try:
            code = json.loads(response.content).get("status_code")
        except (ValueError, AttributeError):
            code = None
        outcome.statuses[response.status_code, code] += 1
        problem = _problem(fuzzed.case, response)
        if problem is not None:
            outcome.problems.append(f"[{fuzzed.mode.value}] {problem}")
    return outcome


@contextlib.asynccontextmanager
async def recording_peer(raw_paths: dict[str, str], **options: Any) -> AsyncIterator[StrictPeer]:
    """A StrictPeer whose requests' paths are also kept as sent, by X-Request-ID (a fresh one
    per hop): StrictPeer records Starlette's decoded path, in which an id's encoded "/" or
    "%" can no longer be told apart from the URL's own."""
    peer = StrictPeer(**options)

    def make(url: str) -> ASGIApp:
        app = peer.app(url)

        async def recorder(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                request_id = dict(scope["headers"]).get(b"x-request-id")
                if request_id is not None:
                    raw_paths[request_id.decode("latin-1")] = scope["raw_path"].decode("latin-1")
            await app(scope, receive, send)

        return recorder

    async with serve(make):
        yield peer


def _operation_at(
    received: Received, raw_path: str
) -> tuple[ModuleRoutes, Operation | None, dict[str, str]] | None:
    """The operation a request a peer got is, matched as the hub matches it: the path as sent
    split on "/", then each segment percent-decoded."""
    parts = [unquote(part) for part in raw_path.strip("/").split("/")]
    routes = {str(r.module): r for r in FUNCTIONAL}.get(parts[0])
    if routes is None or len(parts) < 2:
        return None
    for operation in routes.operations:
        if operation.interface.path != parts[1] or operation.method != received.method:
            continue
        params = operation.match(tuple(parts[2:]))
        if params is not None:
            return routes, operation, params
    return routes, None, {}


def _forwarded_problems(
    peers: list[StrictPeer], raw_paths: dict[str, str]
) -> tuple[int, list[str]]:
    """Pushes the hub forwarded, and those that fail the hub's own body checks."""
    count, problems = 0, []
    for peer in peers:
        for received in peer.received:
            found = _operation_at(received, raw_paths[received.headers["x-request-id"]])
            if found is None:
                continue
            routes, operation, params = found
            where = f"{received.method} {received.path}"
            if operation is None:
                problems.append(f"{where}: no {routes.module} operation at this path")
                continue
            if received.method in WITH_BODY:
                count += 1
            if operation.body is None:
                continue
            try:
                body = json.loads(received.body) if received.body.strip() else None
            except ValueError:
                problems.append(f"{where}: forwarded a body that is not JSON")
                continue
            problem = checks.body_problem(operation, params, body)
            if problem is not None:
                problems.append(f"{where}: forwarded an invalid body ({problem.message})")
    return count, problems


@pytest.mark.conformance(60)
@pytest.mark.timeout(300)
@pytest.mark.parametrize("mode", ["validating", "transparent"])
async def test_check60_fuzzed_requests_get_envelopes_and_no_server_error(mode: str) -> None:
    raw_paths: dict[str, str] = {}
    async with (
        running_hub(validation=mode) as hub,
        recording_peer(
            raw_paths,
            role="CPO",
            country_code=FUZZER[0],
            party_id=FUZZER[1],
            extra_roles=[("EMSP", *FUZZER)],
            modules=ALL_MODULES,
        ) as fuzzer,
        recording_peer(
            raw_paths,
            role="CPO",
            country_code=RECEIVER[0],
            party_id=RECEIVER[1],
            extra_roles=[("EMSP", *RECEIVER)],
            modules=ALL_MODULES,
        ) as receiver,
    ):
        await register_all(hub, fuzzer, receiver)
        assert hub_party(hub) == HUB
        for peer in (fuzzer, receiver):
            peer.received.clear()
        outcome = await asyncio.to_thread(_send, hub.url, fuzzer.auth())
        await hub.settle()
        pushes, invalid = _forwarded_problems([fuzzer, receiver], raw_paths)

    assert outcome.calls == len(generated())
    assert outcome.calls >= 41 * 2 * EXAMPLES_PER_OPERATION * 0.9, outcome.calls
    assert outcome.problems == [], "\n".join(outcome.problems[:20])
    # The fuzzing reached past the checks at the door: some requests were routed and answered
    # by a peer (1000), others refused as invalid (2001).
    assert {(200, 1000), (200, 2001)} <= set(outcome.statuses), outcome.statuses
    print(f"check 60 [{mode}]: {outcome.calls} calls, {pushes} pushes forwarded,", outcome.statuses)
    assert pushes > 0  # valid pushes did get through to the peers
    if mode == "validating":
        assert invalid == [], "\n".join(invalid[:20])


@pytest.mark.conformance(60)
async def test_check60_a_percent_encoded_id_in_the_url_is_the_id_of_the_body(
    hub: HubUnderTest,
) -> None:
    """Found by the fuzzing: the hub compared the body's id with the URL segment still encoded
    (and stored it under that), refusing valid pushes whose id needs encoding in a URL."""
    async with (
        running_peer(role="CPO", country_code="NL", party_id="CPA") as cpo,
        running_peer(role="EMSP", country_code="DE", party_id="EMA") as emsp,
    ):
        await register_all(hub, cpo, emsp)
        uid = "T 1|x?"
        url = hub.endpoint("tokens", "receiver") + "/DE/EMA/" + quote(uid, safe="")
        body = token("DE", "EMA", uid)
        answer = await emsp.call("PUT", url, to=("NL", "CPA"), json=body)
        assert assert_envelope(answer)["status_code"] == 1000, answer.text
        got = cpo.requests("PUT", "/tokens/receiver/DE/EMA/")
        assert [unquote(r.path) for r in got] == [f"/tokens/receiver/DE/EMA/{uid}"]
        assert got[0].json() == body
        listed, _ = await get_all(cpo, hub.endpoint("tokens", "sender"), cpo.hub_party)
        assert [t["uid"] for t in listed] == [uid]
        # The encoded spelling in the body is another id than the one the URL names.
        wrong = await emsp.call("PUT", url, to=("NL", "CPA"), json={**body, "uid": quote(uid)})
        assert assert_envelope(wrong)["status_code"] == 2001, wrong.text
        assert len(cpo.requests("PUT", "/tokens/receiver/DE/EMA/")) == 1
