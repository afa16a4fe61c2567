"""The eMSPs of the benchmark: minimal real OCPI 2.2.1 servers that count broadcast copies.

``python -m bench.emsps CONFIG.json`` starts one uvicorn server per eMSP (own loopback port,
one event loop), registers each at the hub through the credentials handshake (the eMSP as
Sender, with the token A the orchestrator issued), then answers 1000 to every push. For each
EVSE PATCH copy it records when the CPO sent the original (from X-Correlation-ID) and the lag
until the copy arrived. A control server answers ``GET /stats?from_ns=..&to_ns=..`` and
``POST /stop``. The process ends by itself after ``max_seconds``.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import sys
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import orjson

from bench.common import (
    Receive,
    Scope,
    Send,
    answer,
    bind,
    emit,
    envelope,
    latency_summary,
    now_ns,
    read_body,
    register,
    sent_ns_of,
    serving,
    tag_of,
    token_header,
)

MAX_RECORDS = 20_000_000  # per eMSP; bounds memory (16 bytes a copy) on very long runs


@dataclass
class Emsp:
    """One eMSP: its party, token B, and what it received."""

    party_id: str
    country_code: str = "DE"
    url: str = ""
    token_b: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    sent: array[int] = field(default_factory=lambda: array("q"))
    lag: array[int] = field(default_factory=lambda: array("q"))
    tag: array[int] = field(default_factory=lambda: array("q"))
    patches: int = 0
    untraced: int = 0
    other: int = 0
    unauthorized: int = 0
    _ok: bytes = b""
    _ok_at: int = 0

    @property
    def versions_url(self) -> str:
        return f"{self.url}/versions"

    def roles(self) -> list[dict[str, Any]]:
        return [
            {
                "role": "EMSP",
                "business_details": {"name": f"Bench eMSP {self.country_code}*{self.party_id}"},
                "party_id": self.party_id,
                "country_code": self.country_code,
            }
        ]

    def _endpoints(self) -> list[dict[str, str]]:
        return [
            {"identifier": "credentials", "role": "SENDER", "url": f"{self.url}/credentials"},
            {"identifier": "locations", "role": "RECEIVER", "url": f"{self.url}/locations"},
            {"identifier": "tokens", "role": "SENDER", "url": f"{self.url}/tokens"},
            {"identifier": "hubclientinfo", "role": "RECEIVER", "url": f"{self.url}/clientinfo"},
        ]

    def _ok_envelope(self, now: int) -> bytes:
        # The timestamp of a 1000 answer is renewed at most every 100 ms: cheap and still true.
        if now - self._ok_at > 100_000_000:
            self._ok, self._ok_at = envelope(), now
        return self._ok

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        arrived = now_ns()
        body = await read_body(receive)
        headers = dict(scope["headers"])
        if headers.get(b"authorization", b"").decode() != token_header(self.token_b):
            self.unauthorized += 1
            await answer(send, envelope(status_code=2000), status=401)
            return
        method, path = scope["method"], scope["path"]
        if method == "PATCH" and path.startswith("/locations/"):
            self.patches += 1
            correlation = headers.get(b"x-correlation-id", b"").decode()
            sent = sent_ns_of(correlation)
            if sent is None:
                self.untraced += 1
            elif len(self.sent) < MAX_RECORDS:
                self.sent.append(sent)
                self.lag.append(arrived - sent)
                self.tag.append(tag_of(correlation))
            await answer(send, self._ok_envelope(arrived))
            return
        self.other += 1
        del body
        if path == "/versions":
            data: Any = [{"version": "2.2.1", "url": f"{self.url}/2.2.1"}]
        elif path == "/2.2.1":
            data = {"version": "2.2.1", "endpoints": self._endpoints()}
        elif path.startswith("/credentials"):
            data = {"token": self.token_b, "url": self.versions_url, "roles": self.roles()}
        elif method == "GET" and path.startswith("/tokens"):
            data = []
        else:
            data = None
        await answer(send, envelope(data))

    def stats(self, from_ns: int, to_ns: int) -> dict[str, Any]:
        """Copies of the PATCHes the CPOs sent in [from_ns, to_ns), with their fan-out lag."""
        lags = [
            lag for sent, lag in zip(self.sent, self.lag, strict=True) if from_ns <= sent < to_ns
        ]
        return {
            "party": f"{self.country_code}*{self.party_id}",
            "copies": len(lags),
            "copies_total": self.patches,
            "untraced": self.untraced,
            "other_requests": self.other,
            "unauthorized": self.unauthorized,
            "lag": latency_summary(lags),
        }


class Control:
    """Answers the orchestrator: statistics and the stop signal."""

    def __init__(self, emsps: list[Emsp]) -> None:
        self.emsps = emsps
        self.stop = asyncio.Event()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        await read_body(receive)
        if scope["method"] == "POST" and scope["path"] == "/stop":
            self.stop.set()
            await answer(send, b"{}")
            return
        query = parse_qs(scope.get("query_string", b"").decode())
        from_ns = int(query.get("from_ns", ["0"])[0])
        to_ns = int(query.get("to_ns", [str(2**62)])[0])
        if scope["path"] == "/last-copy":
            await answer(send, orjson.dumps(self.last_copy(from_ns, to_ns)))
            return
        await answer(send, orjson.dumps([e.stats(from_ns, to_ns) for e in self.emsps]))

    def last_copy(self, from_ns: int, to_ns: int) -> dict[str, Any]:
        """Per PATCH sent in [from_ns, to_ns): the time from the CPO's request to the copy
        that reached the last of the eMSPs (PATCHes some eMSP did not get are counted apart)."""
        latest: dict[tuple[int, int], tuple[int, int]] = {}
        for emsp in self.emsps:
            for sent, lag, tag in zip(emsp.sent, emsp.lag, emsp.tag, strict=True):
                if from_ns <= sent < to_ns:
                    seen, slowest = latest.get((sent, tag), (0, 0))
                    latest[(sent, tag)] = (seen + 1, max(slowest, lag))
        everyone = [lag for seen, lag in latest.values() if seen >= len(self.emsps)]
        return {
            "patches": len(everyone),
            "incomplete": len(latest) - len(everyone),
            "lag": latency_summary(everyone),
        }


async def main(config: dict[str, Any]) -> None:
    emsps = [Emsp(party_id=party) for party in config["parties"]]
    control = Control(emsps)
    control_sock = bind()
    async with contextlib.AsyncExitStack() as stack:
        for emsp in emsps:
            sock = bind()
            emsp.url = f"http://127.0.0.1:{sock.getsockname()[1]}"
            await stack.enter_async_context(serving(emsp, sock))
        control_url = f"http://127.0.0.1:{control_sock.getsockname()[1]}"
        await stack.enter_async_context(serving(control, control_sock))
        async with httpx.AsyncClient(timeout=30, trust_env=False) as client:
            for emsp, token_a in zip(emsps, config["tokens"], strict=True):
                await register(
                    client,
                    hub_versions_url=config["hub_versions_url"],
                    token_a=token_a,
                    token_b=emsp.token_b,
                    versions_url=emsp.versions_url,
                    roles=emsp.roles(),
                )
        emit("ready", control_url=control_url, emsps=[e.url for e in emsps])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(control.stop.wait(), timeout=float(config["max_seconds"]))


if __name__ == "__main__":
    import uvloop

    uvloop.run(main(orjson.loads(Path(sys.argv[1]).read_bytes())))
