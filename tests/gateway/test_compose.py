"""Offline composition (gateway/compose.py running compose.mjs) on the toy subgraphs' SDL."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from strawberry.asgi import GraphQL

from gateway.compose import COMPOSE_SCRIPT, CompositionError, SubgraphSpec, compose
from subgraphs.common.app import federation_sdl
from tests.gateway.toys import stations_schema, status_schema

CLASHING_STATUS = """
extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key"])
type Station @key(fields: "countryCode partyId id") {
  countryCode: String!
  partyId: String!
  id: ID!
  name: Int!
}
"""


def specs(folder: Path, status_sdl: str) -> list[SubgraphSpec]:
    (folder / "stations.graphql").write_text(federation_sdl(stations_schema()))
    (folder / "status.graphql").write_text(status_sdl)
    return [
        SubgraphSpec(
            name="stations", url="http://127.0.0.1:1/graphql", sdl_path=folder / "stations.graphql"
        ),
        SubgraphSpec(
            name="status", url="http://127.0.0.1:2/graphql", sdl_path=folder / "status.graphql"
        ),
    ]


def test_two_subgraphs_compose_into_one_supergraph(tmp_path: Path) -> None:
    supergraph = compose(specs(tmp_path, federation_sdl(status_schema())))
    assert (
        'STATIONS @join__graph(name: "stations", url: "http://127.0.0.1:1/graphql")' in supergraph
    )
    assert '@join__type(graph: STATUS, key: "countryCode partyId id")' in supergraph
    assert "status: String! @join__field(graph: STATUS)" in supergraph


def test_a_composition_error_is_reported_one_message_a_line(tmp_path: Path) -> None:
    with pytest.raises(CompositionError) as raised:
        compose(specs(tmp_path, CLASHING_STATUS))
    assert raised.value.messages
    assert any(
        message.startswith("FIELD_TYPE_MISMATCH:") and "Station.name" in message
        for message in raised.value.messages
    ), raised.value.messages
    assert all("\n" not in message for message in raised.value.messages)


def test_invalid_sdl_is_a_composition_error_naming_its_subgraph(tmp_path: Path) -> None:
    with pytest.raises(CompositionError) as raised:
        compose(specs(tmp_path, "type Station {"))
    assert [m.split(":")[0] for m in raised.value.messages] == ["status"]


def test_the_script_reads_the_list_from_stdin_and_exits_1_on_errors(tmp_path: Path) -> None:
    listing = '[{"name": "status", "url": "http://127.0.0.1:2/graphql", "sdl_path": "bad.graphql"}]'
    (tmp_path / "bad.graphql").write_text("type Query { a: Nope }")
    done = subprocess.run(
        ["node", str(COMPOSE_SCRIPT), "-", str(tmp_path / "out.graphql")],
        input=listing,
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 1
    assert done.stderr.strip()
    assert not (tmp_path / "out.graphql").exists()


async def test_the_published_sdl_is_what_the_subgraph_serves() -> None:
    schema = stations_schema()
    app = GraphQL(schema)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        answer = await client.post("/graphql", json={"query": "{ _service { sdl } }"})
    assert answer.json()["data"]["_service"]["sdl"] + "\n" == federation_sdl(schema)
