"""The floor of the hub's hot path: the same machine doing the same I/O with no hub logic.

    python -m bench.floor CONFIG.json

A bare forwarder on the hub's own stack (uvicorn with its default loop and HTTP parser, orjson,
aiosqlite or asyncpg, aiohttp), run by ``bench.evse_status`` beside the hub in alternating
runs of the same load. Per PATCH (or PUT) of a Location, EVSE or Connector from a CPO it does
what the hub's guarantees need and nothing else:

1. the token check (the Authorization header's token C, a dict lookup);
2. one transaction that writes the change (an upsert of the object's row, the exact bytes) and
   the copies owed to every eMSP (one INSERT of the three rows with RETURNING, as the hub's
   ``hub_owed_copy``);
3. the answer (an OCPI envelope from orjson);
4. then, after the answer, three copies over pooled aiohttp connections with the request's
   exact body and X-Correlation-ID; each delivered copy's row is deleted, in batches in a
   transaction of its own (as the hub's sender does).

No validation of the body beyond it being a JSON object, no role or routing checks, no
ordering of copies per object, no failure handling beyond counting. Registration is the
credentials handshake with pre-issued tokens A (config), stored in the database so that
several processes (``workers`` > 1, one SO_REUSEPORT socket each) share them. The process
ends by itself after ``max_seconds``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import orjson
import uvicorn

from bench.common import (
    Receive,
    Scope,
    Send,
    answer,
    emit,
    envelope,
    read_body,
    require_loopback,
    timestamp,
    token_header,
)

HUB = {"country_code": "FI", "party_id": "ICR"}
PREFIX = "/ocpi/2.2.1"
OBJECTS = f"{PREFIX}/locations/receiver/"
SCHEMA = (
    """CREATE TABLE IF NOT EXISTS floor_party (
        token_c TEXT PRIMARY KEY, role TEXT NOT NULL, country_code TEXT NOT NULL,
        party_id TEXT NOT NULL, token_b TEXT NOT NULL, locations_url TEXT)""",
    """CREATE TABLE IF NOT EXISTS floor_object (
        owner TEXT NOT NULL, object_key TEXT NOT NULL, body BYTEA NOT NULL,
        PRIMARY KEY (owner, object_key))""",
)
OWED_TABLE = {
    "sqlite": """CREATE TABLE IF NOT EXISTS floor_owed (
        id INTEGER PRIMARY KEY AUTOINCREMENT, receiver TEXT NOT NULL, object_key TEXT NOT NULL,
        method TEXT NOT NULL, url TEXT NOT NULL, headers TEXT NOT NULL, body BYTEA,
        created_at TEXT NOT NULL)""",
    "postgres": """CREATE TABLE IF NOT EXISTS floor_owed (
        id BIGSERIAL PRIMARY KEY, receiver TEXT NOT NULL, object_key TEXT NOT NULL,
        method TEXT NOT NULL, url TEXT NOT NULL, headers TEXT NOT NULL, body BYTEA,
        created_at TEXT NOT NULL)""",
}


class Store(Protocol):
    """The floor's database: the change and its owed rows in one transaction, and deletes."""

    async def change(
        self, owner: str, key: str, body: bytes, owed: list[tuple[str, str, str, str, str]]
    ) -> list[int]: ...

    async def delete(self, ids: list[int]) -> None: ...

    async def parties(self) -> list[tuple[str, str, str, str, str, str | None]]: ...

    async def add_party(self, row: tuple[str, str, str, str, str, str | None]) -> None: ...

    async def close(self) -> None: ...


class SqliteStore:
    """One connection and one writer at a time (the hub's SQLite writer lock, WAL, NORMAL)."""

    def __init__(self, connection: Any) -> None:
        self.db = connection
        self.lock = asyncio.Lock()

    @classmethod
    async def open(cls, path: str) -> SqliteStore:
        import aiosqlite

        connection = await aiosqlite.connect(path, isolation_level=None)
        for pragma in ("journal_mode=WAL", "synchronous=NORMAL", "busy_timeout=10000"):
            await connection.execute(f"PRAGMA {pragma}")
        for statement in (*SCHEMA, OWED_TABLE["sqlite"]):
            await connection.execute(statement)
        return cls(connection)

    async def change(
        self, owner: str, key: str, body: bytes, owed: list[tuple[str, str, str, str, str]]
    ) -> list[int]:
        values = ", ".join("(?, ?, ?, ?, ?, ?, ?)" for _ in owed)
        flat = [v for row in owed for v in (*row[:4], row[4], body, timestamp())]
        async with self.lock:
            await self.db.execute("BEGIN IMMEDIATE")
            try:
                await self.db.execute(
                    "INSERT INTO floor_object (owner, object_key, body) VALUES (?, ?, ?) "
                    "ON CONFLICT (owner, object_key) DO UPDATE SET body = excluded.body",
                    (owner, key, body),
                )
                ids: list[int] = []
                if owed:
                    cursor = await self.db.execute(
                        "INSERT INTO floor_owed (receiver, object_key, method, url, headers, "
                        f"body, created_at) VALUES {values} RETURNING id",
                        flat,
                    )
                    ids = [row[0] for row in await cursor.fetchall()]
                await self.db.execute("COMMIT")
            except BaseException:
                await self.db.execute("ROLLBACK")
                raise
        return ids

    async def delete(self, ids: list[int]) -> None:
        marks = ", ".join("?" for _ in ids)
        async with self.lock:
            await self.db.execute(f"DELETE FROM floor_owed WHERE id IN ({marks})", ids)

    async def parties(self) -> list[tuple[str, str, str, str, str, str | None]]:
        cursor = await self.db.execute("SELECT * FROM floor_party")
        return [tuple(row) for row in await cursor.fetchall()]

    async def add_party(self, row: tuple[str, str, str, str, str, str | None]) -> None:
        async with self.lock:
            await self.db.execute("INSERT INTO floor_party VALUES (?, ?, ?, ?, ?, ?)", row)

    async def close(self) -> None:
        await self.db.close()


class PostgresStore:
    """A pool of asyncpg connections (the hub's pool holds 30); statements prepared by asyncpg."""

    def __init__(self, pool: Any) -> None:
        self.pool = pool

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        import asyncpg

        pool = await asyncpg.create_pool(url, min_size=4, max_size=30)
        async with pool.acquire() as connection:
            # Two processes may start at once: one creates, the other waits for it.
            await connection.execute("SELECT pg_advisory_lock(8642)")
            for statement in (*SCHEMA, OWED_TABLE["postgres"]):
                await connection.execute(statement)
            await connection.execute("SELECT pg_advisory_unlock(8642)")
        return cls(pool)

    async def change(
        self, owner: str, key: str, body: bytes, owed: list[tuple[str, str, str, str, str]]
    ) -> list[int]:
        values = ", ".join(
            f"(${7 * i + 1}, ${7 * i + 2}, ${7 * i + 3}, ${7 * i + 4}, ${7 * i + 5}, "
            f"${7 * i + 6}, ${7 * i + 7})"
            for i in range(len(owed))
        )
        flat = [v for row in owed for v in (*row[:4], row[4], body, timestamp())]
        async with self.pool.acquire() as connection, connection.transaction():
            await connection.execute(
                "INSERT INTO floor_object (owner, object_key, body) VALUES ($1, $2, $3) "
                "ON CONFLICT (owner, object_key) DO UPDATE SET body = excluded.body",
                owner,
                key,
                body,
            )
            if not owed:
                return []
            rows = await connection.fetch(
                "INSERT INTO floor_owed (receiver, object_key, method, url, headers, body, "
                f"created_at) VALUES {values} RETURNING id",
                *flat,
            )
        return [row[0] for row in rows]

    async def delete(self, ids: list[int]) -> None:
        async with self.pool.acquire() as connection:
            await connection.execute("DELETE FROM floor_owed WHERE id = ANY($1::bigint[])", ids)

    async def parties(self) -> list[tuple[str, str, str, str, str, str | None]]:
        async with self.pool.acquire() as connection:
            return [tuple(r) for r in await connection.fetch("SELECT * FROM floor_party")]

    async def add_party(self, row: tuple[str, str, str, str, str, str | None]) -> None:
        async with self.pool.acquire() as connection:
            await connection.execute(
                "INSERT INTO floor_party VALUES ($1, $2, $3, $4, $5, $6)", *row
            )

    async def close(self) -> None:
        await self.pool.close()


async def open_store(url: str) -> Store:
    """``url`` as SQLAlchemy writes it (sqlite+aiosqlite:///PATH, postgresql+asyncpg://...)."""
    if url.startswith("sqlite"):
        return await SqliteStore.open(url.split(":///", 1)[1])
    return await PostgresStore.open(url.replace("postgresql+asyncpg://", "postgresql://", 1))


@dataclass(frozen=True, slots=True)
class Party:
    role: str
    country_code: str
    party_id: str
    token_b: str
    locations_url: str | None

    @property
    def authorization(self) -> str:
        return token_header(self.token_b)


def _token_of(headers: dict[bytes, bytes]) -> str | None:
    value = headers.get(b"authorization", b"")
    if not value.startswith(b"Token "):
        return None
    try:
        return base64.b64decode(value[6:], validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None


class Floor:
    def __init__(self, config: dict[str, Any], store: Store) -> None:
        self.base = str(config["url"])
        #: token A -> (role, country code, party id), issued by the orchestrator.
        self.tokens_a = {t: tuple(p) for t, p in config["tokens_a"].items()}
        self.store = store
        self.parties: dict[str, Party] = {}
        self.receivers: list[Party] = []
        self.session: aiohttp.ClientSession | None = None
        self.tasks: set[asyncio.Task[None]] = set()
        self.delivered: list[int] = []
        self.wake = asyncio.Event()
        self.copies = {"delivered": 0, "failed": 0}
        self._ok = b""
        self._ok_at = 0.0

    async def start(self) -> None:
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0, limit_per_host=64),
            timeout=aiohttp.ClientTimeout(total=10),
        )
        self.tasks.add(asyncio.create_task(self._deleter()))
        await self._reload()

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.session is not None:
            await self.session.close()

    async def _reload(self) -> None:
        rows = await self.store.parties()
        self.parties = {row[0]: Party(*row[1:]) for row in rows}
        self.receivers = sorted(
            (p for p in self.parties.values() if p.role == "EMSP" and p.locations_url),
            key=lambda p: p.party_id,
        )

    def _ok_envelope(self) -> bytes:
        now = asyncio.get_running_loop().time()
        if now - self._ok_at > 0.1:  # the 1000 answer's timestamp, renewed every 100 ms
            self._ok, self._ok_at = envelope(), now
        return self._ok

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = await read_body(receive)
        headers = dict(scope["headers"])
        path: str = scope["path"]
        method: str = scope["method"]
        if method in ("PATCH", "PUT") and path.startswith(OBJECTS):
            token = _token_of(headers)
            party = self.parties.get(token or "")
            if party is None and token:
                await self._reload()  # registered in another worker process
                party = self.parties.get(token)
            if party is None or party.role != "CPO":
                await answer(send, envelope(status_code=2000), 401)
                return
            await self._change(method, path[len(OBJECTS) :], headers, body, send)
            return
        if path in ("/ocpi/versions", PREFIX) or path.startswith(f"{PREFIX}/credentials"):
            await self._registration(method, path, headers, body, send)
            return
        await answer(send, envelope(status_code=2000), 404)

    async def _change(
        self, method: str, rest: str, headers: dict[bytes, bytes], body: bytes, send: Send
    ) -> None:
        parts = rest.split("/")
        if len(parts) < 3 or not isinstance(orjson.loads(body or b"null"), dict):
            await answer(send, envelope(status_code=2001), 400)
            return
        owner, key = "/".join(parts[:2]), "/".join(parts[2:])
        correlation = headers.get(b"x-correlation-id", b"").decode()
        copies = [
            (
                f"{receiver.country_code}*{receiver.party_id}",
                f"{receiver.locations_url}/{rest}",
                {
                    "Content-Type": "application/json",
                    "X-Request-ID": secrets.token_hex(16),
                    "X-Correlation-ID": correlation,
                    "OCPI-from-country-code": parts[0],
                    "OCPI-from-party-id": parts[1],
                    "OCPI-to-country-code": receiver.country_code,
                    "OCPI-to-party-id": receiver.party_id,
                },
                receiver,
            )
            for receiver in self.receivers
        ]
        ids = await self.store.change(
            owner,
            key,
            body,
            [(name, key, method, url, orjson.dumps(h).decode()) for name, url, h, _ in copies],
        )
        await answer(send, self._ok_envelope())
        for row_id, (_, url, copy_headers, receiver) in zip(ids, copies, strict=True):
            task = asyncio.create_task(
                self._copy(
                    row_id,
                    method,
                    url,
                    {**copy_headers, "Authorization": receiver.authorization},
                    body,
                )
            )
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _copy(
        self, row_id: int, method: str, url: str, headers: dict[str, str], body: bytes
    ) -> None:
        assert self.session is not None
        try:
            async with self.session.request(method, url, headers=headers, data=body) as answer:
                await answer.read()
                ok = answer.status == 200
        except (aiohttp.ClientError, TimeoutError):
            ok = False
        self.copies["delivered" if ok else "failed"] += 1
        self.delivered.append(row_id)
        self.wake.set()

    async def _deleter(self) -> None:
        """Deletes the rows of finished copies, all that finished meanwhile in one statement."""
        while True:
            await self.wake.wait()
            self.wake.clear()
            ids, self.delivered = self.delivered, []
            if ids:
                await self.store.delete(ids)

    async def _registration(
        self, method: str, path: str, headers: dict[bytes, bytes], body: bytes, send: Send
    ) -> None:
        token = _token_of(headers) or ""
        if token not in self.tokens_a and token not in self.parties:
            await answer(send, envelope(status_code=2000), 401)
            return
        if path == "/ocpi/versions":
            await answer(send, envelope([{"version": "2.2.1", "url": f"{self.base}{PREFIX}"}]))
            return
        if path == PREFIX:
            endpoints = [
                {
                    "identifier": "credentials",
                    "role": "RECEIVER",
                    "url": f"{self.base}{PREFIX}/credentials",
                },
                {
                    "identifier": "locations",
                    "role": "RECEIVER",
                    "url": f"{self.base}{OBJECTS}".rstrip("/"),
                },
            ]
            await answer(send, envelope({"version": "2.2.1", "endpoints": endpoints}))
            return
        if method != "POST" or token not in self.tokens_a:
            await answer(send, envelope(status_code=2000), 405)
            return
        role, country_code, party_id = self.tokens_a[token]
        given = orjson.loads(body)
        locations_url = (
            await self._locations_of(given["url"], given["token"]) if role == "EMSP" else None
        )
        token_c = secrets.token_urlsafe(24)
        await self.store.add_party(
            (token_c, role, country_code, party_id, given["token"], locations_url)
        )
        await self._reload()
        await answer(
            send,
            envelope(
                {
                    "token": token_c,
                    "url": f"{self.base}/ocpi/versions",
                    "roles": [{"role": "HUB", "business_details": {"name": "Floor"}, **HUB}],
                }
            ),
        )

    async def _locations_of(self, versions_url: str, token_b: str) -> str:
        assert self.session is not None
        auth = {"Authorization": token_header(token_b)}
        async with self.session.get(require_loopback(versions_url), headers=auth) as answer:
            versions = orjson.loads(await answer.read())["data"]
        details_url = next(v["url"] for v in versions if v["version"] == "2.2.1")
        async with self.session.get(require_loopback(details_url), headers=auth) as answer:
            endpoints = orjson.loads(await answer.read())["data"]["endpoints"]
        return str(
            next(
                e["url"]
                for e in endpoints
                if e["identifier"] == "locations" and e["role"] == "RECEIVER"
            )
        )


def reuse_port_socket(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    return sock


@contextlib.asynccontextmanager
async def running(config: dict[str, Any]) -> AsyncIterator[Floor]:
    store = await open_store(str(config["database_url"]))
    floor = Floor(config, store)
    try:
        await floor.start()
        yield floor
    finally:
        await floor.close()
        await store.close()


async def serve(config: dict[str, Any]) -> None:
    """One worker: uvicorn as the hub runs it (default loop and HTTP parser, no access log)."""
    async with running(config) as floor:
        server = uvicorn.Server(
            uvicorn.Config(floor, log_level="warning", access_log=False, lifespan="off")
        )
        sock = reuse_port_socket(int(config["port"]))
        task = asyncio.create_task(server.serve(sockets=[sock]))
        for _ in range(1000):
            if server.started or task.done():
                break
            await asyncio.sleep(0.01)
        emit("ready", url=config["url"])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout=float(config["max_seconds"]))
        server.should_exit = True
        await task


def main(path: str) -> None:
    config = orjson.loads(Path(path).read_bytes())
    workers = int(config.get("workers", 1))
    if workers == 1 or os.environ.get("FLOOR_WORKER"):
        import uvloop  # what uvicorn's default loop is where uvloop is installed, as here

        uvloop.run(serve(config))
        return
    # Several workers: this process only starts them (each binds the port with SO_REUSEPORT),
    # says when all are ready, and ends them on SIGTERM.
    env = {**os.environ, "FLOOR_WORKER": "1"}
    others = [
        subprocess.Popen([sys.executable, "-m", "bench.floor", path], env=env)
        for _ in range(workers)
    ]

    def stop(*_: object) -> None:
        for other in others:
            other.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        for other in others:
            other.wait(timeout=float(config["max_seconds"]) + 30)
    finally:
        stop()


if __name__ == "__main__":
    main(sys.argv[1])
