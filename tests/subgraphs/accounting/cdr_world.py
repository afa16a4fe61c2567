"""A small world of CDRs for the accounting subgraph's tests: two CPOs, two eMSPs (one of
which runs a station too), three drivers (carol has alice's uid at another eMSP), and who must
see which CDR."""

from __future__ import annotations

from typing import Any

from subgraphs.common.context import Viewer, ViewerKind
from tests.conformance.support import cdr

CPO, OTHER_CPO = ("FI", "CP1"), ("FI", "CP2")
EMSP, OTHER_EMSP = ("DE", "EM1"), ("NL", "EM2")


def a_cdr(
    cpo: tuple[str, str],
    cdr_id: str,
    emsp: tuple[str, str],
    *,
    uid: str,
    location_id: str,
    start: str,
    end: str,
    tariff_id: str = "T1",
    session_id: str | None = None,
    **changes: Any,
) -> dict[str, Any]:
    body: dict[str, Any] = cdr(cpo, cdr_id, emsp)
    body["cdr_token"]["uid"] = uid
    body["cdr_location"].update(id=location_id, evse_uid=f"{location_id}-E1")
    body["start_date_time"], body["end_date_time"] = start, end
    body["charging_periods"][0].update(start_date_time=start, tariff_id=tariff_id)
    if session_id is not None:
        body["session_id"] = session_id
    body.update(changes)
    return body


CDRS = [
    a_cdr(CPO, "C1", EMSP, uid="alice", location_id="L1", start="2026-01-01T00:00:00Z",
          end="2026-01-01T01:00:00Z", session_id="S1"),
    a_cdr(CPO, "C2", EMSP, uid="bob", location_id="L2", start="2026-01-02T10:00:00Z",
          end="2026-01-02T11:00:00Z", tariff_id="T2"),
    a_cdr(OTHER_CPO, "C3", EMSP, uid="alice", location_id="L9", start="2026-01-03T00:00:00Z",
          end="2026-01-03T02:00:00Z"),
    a_cdr(CPO, "C4", OTHER_EMSP, uid="alice", location_id="L1", start="2026-01-04T00:00:00Z",
          end="2026-01-04T00:30:00Z"),
    # EM1 runs a station too: it sees C5 as its CPO, beside its customers' CDRs.
    a_cdr(EMSP, "C5", OTHER_EMSP, uid="dave", location_id="L5", start="2026-01-02T12:00:00Z",
          end="2026-01-02T13:00:00Z"),
]  # fmt: skip


def driver(emsp: tuple[str, str], uid: str) -> Viewer:
    return Viewer(
        kind=ViewerKind.DRIVER, country_code=emsp[0], party_id=emsp[1], token_uid=uid.upper()
    )


def party(ref: tuple[str, str], role: str) -> Viewer:
    return Viewer(kind=ViewerKind.PARTY, country_code=ref[0], party_id=ref[1], role=role)


VIEWERS = {
    "alice": driver(EMSP, "alice"),
    "bob": driver(EMSP, "bob"),
    "carol": driver(OTHER_EMSP, "alice"),
    "cpo": party(CPO, "CPO"),
    "other-cpo": party(OTHER_CPO, "CPO"),
    "emsp": party(EMSP, "EMSP"),
    "other-emsp": party(OTHER_EMSP, "EMSP"),
    "anonymous": Viewer(),
}
# Each viewer's CDRs, in the order their charging started.
SEES = {
    "alice": ["C1", "C3"],
    "bob": ["C2"],
    "carol": ["C4"],
    "cpo": ["C1", "C2", "C4"],
    "other-cpo": ["C3"],
    "emsp": ["C1", "C2", "C5", "C3"],
    "other-emsp": ["C5", "C4"],
    "anonymous": [],
}
