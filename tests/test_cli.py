"""The command line as an operator uses it: ``incar`` subprocesses against a serving hub.

One installation per module: an empty database that ``incar serve`` migrates when it starts,
and a hub process that keeps serving while the other commands run beside it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import tempfile
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, text
from sqlalchemy.engine.url import make_url

from incar.db import Database, alembic_config, is_sqlite
from tests.conformance.support import assert_envelope, token_header
from tests.peers.strict.peer import running_peer
from tests.support.databases import configured_url
from tests.support.hub_process import (
    Completed,
    HubProcess,
    free_port,
    hub_process,
    incar_env,
    onboard,
    register_at,
    run_incar,
)


# --- an installation ------------------------------------------------------------------------
@contextlib.asynccontextmanager
async def empty_database(folder: Path) -> AsyncIterator[str]:
    """A database with no schema at all: a SQLite path not yet created, or a new PostgreSQL DB."""
    base = configured_url()
    if base is None or is_sqlite(base):
        yield f"sqlite+aiosqlite:///{folder / 'db' / 'incar.db'}"
        return
    parsed = make_url(base)
    name = f"incar_cli_{uuid.uuid4().hex[:12]}"
    admin = parsed.set(drivername="postgresql", database="postgres").render_as_string(
        hide_password=False
    )
    connection = await asyncpg.connect(admin)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    try:
        yield parsed.set(database=name).render_as_string(hide_password=False)
    finally:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await connection.close()


@dataclass(frozen=True)
class Snapshot:
    tables: tuple[str, ...]
    revision: str | None
    platforms: tuple[tuple[Any, ...], ...]  # (id, name, status, token digests, versions_url)
    parties: tuple[tuple[Any, ...], ...]  # (platform_id, country_code, party_id, role, status)


PLATFORMS = (
    "SELECT id, name, status, token_a_digest, token_c_digest, versions_url "
    "FROM hub_platform ORDER BY id"
)
PARTIES = "SELECT platform_id, country_code, party_id, role, status FROM hub_party ORDER BY id"


async def snapshot(database_url: str) -> Snapshot:
    """The schema, its Alembic revision and the registry's rows, read straight from the DB."""
    db = Database(database_url)
    try:
        async with db.engine.connect() as connection:
            tables = await connection.run_sync(
                lambda c: tuple(sorted(inspect(c).get_table_names()))
            )
            if "alembic_version" not in tables:
                return Snapshot(tables=tables, revision=None, platforms=(), parties=())
            revision = await connection.scalar(text("SELECT version_num FROM alembic_version"))
            platforms = (await connection.execute(text(PLATFORMS))).all()
            parties = (await connection.execute(text(PARTIES))).all()
    finally:
        await db.dispose()
    return Snapshot(
        tables=tables,
        revision=revision,
        platforms=tuple(tuple(row) for row in platforms),
        parties=tuple(tuple(row) for row in parties),
    )


def head_revision(database_url: str) -> str:
    head = ScriptDirectory.from_config(alembic_config(database_url)).get_current_head()
    assert head is not None
    return head


@dataclass
class Installation:
    database_url: str
    env: dict[str, str]
    hub: HubProcess
    fresh: bool  # the database had no schema (nor, for SQLite, a file) before `incar serve`
    after_serve: Snapshot

    async def incar(self, *args: str, **env: str) -> Completed:
        return await run_incar(*args, env={**self.env, **env})

    async def listing(self) -> list[dict[str, Any]]:
        done = await self.incar("platform", "list", "--json")
        assert done.returncode == 0, done.stderr
        listing: list[dict[str, Any]] = json.loads(done.stdout)
        return listing


@pytest.fixture(scope="module")
async def installation() -> AsyncIterator[Installation]:
    with tempfile.TemporaryDirectory(prefix="incar-cli-") as name:
        folder = Path(name)
        async with empty_database(folder) as database_url:
            port = free_port()
            env = incar_env(database_url, folder / "data", port)
            if is_sqlite(database_url):
                sqlite_file = Path(str(make_url(database_url).database))
                fresh = not await asyncio.to_thread(sqlite_file.exists)
            else:
                fresh = (await snapshot(database_url)).tables == ()
            async with hub_process(env, port, folder / "hub.log") as hub:
                yield Installation(
                    database_url=database_url,
                    env=env,
                    hub=hub,
                    fresh=fresh,
                    after_serve=await snapshot(database_url),
                )


def one_line_error(done: Completed, *fragments: str) -> None:
    """A failure as the README promises: non-zero status, one line on stderr, no traceback."""
    assert done.returncode != 0, done
    assert len(done.stderr_lines) == 1, done.stderr
    assert done.stdout == "", done.stdout
    line = done.stderr_lines[0]
    assert line.startswith("incar"), line
    for fragment in fragments:
        assert fragment in line, (fragment, line)


async def get_versions(hub: HubProcess, token: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        return await client.get(hub.versions_url, headers=token_header(token))


# --- serve ----------------------------------------------------------------------------------
async def test_serve_migrates_a_fresh_database_first_and_serves_versions(
    installation: Installation,
) -> None:
    hub = installation.hub
    assert installation.fresh
    assert installation.after_serve.revision == head_revision(installation.database_url)
    assert "hub_platform" in installation.after_serve.tables

    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        anonymous = await client.get(hub.versions_url)
    assert anonymous.status_code == 401
    assert_envelope(anonymous)

    token_a = await onboard(installation.database_url, "CPO", ("FI", "SRV"))
    versions = await get_versions(hub, token_a)
    assert versions.status_code == 200, versions.text
    assert assert_envelope(versions)["data"] == [
        {"version": "2.2.1", "url": f"{hub.url}/ocpi/2.2.1"}
    ]


# --- platform add ---------------------------------------------------------------------------
async def test_platform_add_prints_token_a_and_the_versions_url(
    installation: Installation,
) -> None:
    hub = installation.hub
    plain, as_json = await asyncio.gather(
        installation.incar(
            "platform", "add", "--role", "CPO", "--country", "NL", "--party", "ADT",
            "--name", "Plain CPO",
        ),
        installation.incar(
            "platform", "add", "--role", "EMSP", "--country", "de", "--party", "adj",
            "--name", "JSON eMSP", "--json",
        ),
    )  # fmt: skip
    assert plain.returncode == 0 and plain.stderr == "", plain
    lines = dict(line.split(":", 1) for line in plain.stdout.splitlines())
    assert set(lines) == {"registration token (A)", "hub versions URL"}, plain.stdout
    plain_token = lines["registration token (A)"].strip()
    assert lines["hub versions URL"].strip() == hub.versions_url

    assert as_json.returncode == 0 and as_json.stderr == "", as_json
    printed = json.loads(as_json.stdout)
    assert set(printed) == {"token", "versions_url"}
    assert printed["versions_url"] == hub.versions_url
    assert plain_token != printed["token"]

    # Each token A opens the serving hub's versions, and nothing functional.
    async with httpx.AsyncClient(timeout=10, trust_env=False) as client:
        for token_a, party in ((plain_token, ("NL", "ADT")), (printed["token"], ("DE", "ADJ"))):
            assert (await get_versions(hub, token_a)).status_code == 200
            routing = {"OCPI-from-country-code": party[0], "OCPI-from-party-id": party[1]}
            functional = await client.get(
                hub.endpoint("locations", "sender"), headers={**token_header(token_a), **routing}
            )
            assert functional.status_code == 401, functional.text
    # The JSON one registers the platform it was issued for, and is void afterwards.
    async with running_peer(role="EMSP", country_code="DE", party_id="ADJ") as emsp:
        await register_at(emsp, hub.url, printed["token"])
    assert (await get_versions(hub, printed["token"])).status_code == 401
    # Both are in the registry under the names, parties and roles the operator gave.
    registry = await snapshot(installation.database_url)
    names = {platform[0]: platform[1] for platform in registry.platforms}
    parties = {(names[p[0]], *p[1:]) for p in registry.parties}
    assert ("Plain CPO", "NL", "ADT", "CPO", "PLANNED") in parties
    assert ("JSON eMSP", "DE", "ADJ", "EMSP", "CONNECTED") in parties


# --- platform list --------------------------------------------------------------------------
async def test_platform_list_shows_roles_and_connection_status(
    installation: Installation,
) -> None:
    hub = installation.hub
    await onboard(installation.database_url, "EMSP", ("SE", "LPL"))
    async with running_peer(role="CPO", country_code="SE", party_id="LCN") as cpo:
        await register_at(
            cpo, hub.url, await onboard(installation.database_url, "CPO", ("SE", "LCN"))
        )
    as_text, as_json = await asyncio.gather(
        installation.incar("platform", "list"), installation.incar("platform", "list", "--json")
    )
    assert as_text.returncode == 0 and as_text.stderr == "", as_text
    assert as_json.returncode == 0 and as_json.stderr == "", as_json
    by_role = {tuple(entry["roles"]): entry for entry in json.loads(as_json.stdout)}
    connected = by_role[("CPO SE*LCN",)]
    planned = by_role[("EMSP SE*LPL",)]
    assert connected["status"] == "CONNECTED"
    assert connected["versions_url"] == cpo.versions_url
    assert connected["name"] == "CPO SE*LCN", "the name it was onboarded with"
    assert planned["status"] == "PLANNED"
    assert planned["versions_url"] is None

    header, *rows = as_text.stdout.splitlines()
    assert header.split() == ["ID", "STATUS", "NAME", "ROLES"]
    text_rows = {row.split()[0]: row for row in rows}
    assert len(text_rows) == len(by_role)
    for entry in (connected, planned):
        row = text_rows[str(entry["id"])]
        assert entry["status"] in row.split()
        assert row.endswith(", ".join(entry["roles"]))


# --- bad input ------------------------------------------------------------------------------
def add_args(role: str, country: str, party: str, *more: str) -> list[str]:
    return ["--role", role, "--country", country, "--party", party, *more]


# `incar platform add` arguments that must fail, and what the one line must name.
BAD_ADD: dict[str, tuple[list[str], tuple[str, ...]]] = {
    "unknown role": (add_args("HUB", "NL", "BAD", "--name", "X"), ("--role", "HUB")),
    "3-letter country": (add_args("CPO", "NLD", "BAD", "--name", "X"), ("NLD",)),
    "country with a digit": (add_args("CPO", "N1", "BAD", "--name", "X"), ("N1",)),
    "4-char party": (add_args("CPO", "NL", "BADD", "--name", "X"), ("BADD",)),
    "2-char party": (add_args("CPO", "NL", "BA", "--name", "X", "--json"), ("'BA'",)),
    "party with a dash": (add_args("CPO", "NL", "B-D", "--name", "X"), ("B-D",)),
    "no name": (add_args("CPO", "NL", "BAD", "--json"), ("--name",)),
    "duplicate party": (add_args("CPO", "NO", "DUP", "--name", "X"), ("NO*DUP", "CONNECTED")),
}


async def test_bad_input_ends_in_one_line_and_changes_nothing(
    installation: Installation,
) -> None:
    hub = installation.hub
    async with (
        running_peer(role="CPO", country_code="NO", party_id="DUP") as taken,
        running_peer(role="CPO", country_code="NO", party_id="REF") as refusing,
    ):
        await register_at(
            taken, hub.url, await onboard(installation.database_url, "CPO", ("NO", "DUP"))
        )
        before_listing = await installation.listing()
        before = await snapshot(installation.database_url)
        names = [*BAD_ADD, "connect: unreachable", "connect: token refused", "no database"]
        dead = f"http://127.0.0.1:{free_port()}/ocpi/versions"
        broken_db = f"postgresql+asyncpg://postgres@127.0.0.1:{free_port()}/incar"
        runs = await asyncio.gather(
            *(installation.incar("platform", "add", *args) for args, _ in BAD_ADD.values()),
            installation.incar("platform", "connect", "--versions-url", dead, "--token", "A"),
            installation.incar(
                "platform", "connect", "--versions-url", refusing.versions_url, "--token", "nope"
            ),
            installation.incar("platform", "list", INCAR_DATABASE_URL=broken_db),
        )
        expected = [
            *(fragments for _, fragments in BAD_ADD.values()),
            (dead,),
            ("401",),
            ("127.0.0.1",),
        ]
        for name, done, fragments in zip(names, runs, expected, strict=True):
            try:
                one_line_error(done, *fragments)
            except AssertionError as error:
                raise AssertionError(f"{name}: {error}") from None
        # The refusing peer was asked for its versions (with the wrong token), nothing more.
        assert [(r.method, r.path) for r in refusing.received] == [("GET", "/versions")]
        assert await installation.listing() == before_listing
        assert await snapshot(installation.database_url) == before
        # The party that was asked for twice is still connected, and its token C still works.
        answer = await taken.call("GET", hub.endpoint("tokens", "sender"), to=taken.hub_party)
        assert answer.json()["status_code"] == 1000


# --- platform connect -----------------------------------------------------------------------
async def test_platform_connect_registers_the_hub_at_a_peer_while_it_serves(
    installation: Installation,
) -> None:
    hub = installation.hub
    async with running_peer(role="EMSP", country_code="DK", party_id="CNX") as emsp:
        done = await installation.incar(
            # --token=VALUE: a random token may begin with "-", which argparse would take
            # for an option after a separate --token.
            "platform",
            "connect",
            "--versions-url",
            emsp.versions_url,
            f"--token={emsp.token_b}",
        )
        assert done.returncode == 0, (done.stdout, done.stderr)
        # Pushes to peers of earlier tests (gone by now) are logged, not fatal.
        assert "Traceback" not in done.stderr, done.stderr
        assert done.stdout.strip() == f"connected to Strict EMSP DK*CNX ({emsp.versions_url})"
        steps = [
            (r.method, r.path) for r in emsp.received if not r.path.startswith("/hubclientinfo")
        ]
        assert steps == [
            ("GET", "/versions"),
            ("GET", "/2.2.1"),
            ("POST", "/credentials"),
            ("GET", "/versions"),
            ("GET", "/2.2.1"),
        ]
        (posted,) = emsp.requests("POST", "/credentials")
        credentials = posted.json()
        assert credentials["url"] == hub.versions_url
        assert [r["role"] for r in credentials["roles"]] == ["HUB"]
        # The serving hub (another process) now knows the peer by the token B it was given.
        emsp.token_c = credentials["token"]
        assert (await get_versions(hub, credentials["token"])).status_code == 200
        emsp.hub_party = (
            credentials["roles"][0]["country_code"],
            credentials["roles"][0]["party_id"],
        )
        locations = await emsp.call("GET", hub.endpoint("locations", "sender"), to=emsp.hub_party)
        assert locations.json()["status_code"] == 1000, locations.text
    # Registered: the platform with its role, CONNECTED, in the registry the hub serves from.
    registry = await snapshot(installation.database_url)
    (party,) = [p for p in registry.parties if p[1:4] == ("DK", "CNX", "EMSP")]
    (platform,) = [p for p in registry.platforms if p[0] == party[0]]
    assert platform[2] == party[4] == "CONNECTED"
    assert platform[5] == emsp.versions_url


# --- migrate --------------------------------------------------------------------------------
async def test_migrate_is_idempotent() -> None:
    with tempfile.TemporaryDirectory(prefix="incar-cli-") as name:
        folder = Path(name)
        async with empty_database(folder) as database_url:
            env = incar_env(database_url, folder / "data", free_port())
            first = await run_incar("migrate", env=env)
            after_first = await snapshot(database_url)
            second = await run_incar("migrate", env=env)
            after_second = await snapshot(database_url)
    for done in (first, second):
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("database at head"), done.stdout
    assert after_first.revision == head_revision(database_url)
    assert "hub_platform" in after_first.tables
    assert after_second == after_first
