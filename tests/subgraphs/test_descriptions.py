"""Every type, field, argument and enum value of every subgraph says what it is: GraphiQL's
documentation is all an app developer reads. Federation's own machinery (``_service``,
``_entities`` and their types) and GraphQL's built-in scalars are not ours to describe."""

from __future__ import annotations

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
)

from subgraphs.catalog import subgraphs
from subgraphs.common import roots

BUILT_IN = {"String", "Int", "Float", "Boolean", "ID"}
FEDERATION_FIELDS = {"_entities", "_service"}


def ours(name: str) -> bool:
    return not name.startswith("_") and "__" not in name and name not in BUILT_IN


def undescribed(named: GraphQLNamedType) -> list[str]:
    missing = [] if named.description else [named.name]
    if isinstance(named, (GraphQLObjectType, GraphQLInterfaceType, GraphQLInputObjectType)):
        for field_name, field in named.fields.items():
            if field_name in FEDERATION_FIELDS:
                continue
            if not field.description:
                missing.append(f"{named.name}.{field_name}")
            for argument_name, argument in getattr(field, "args", {}).items():
                if not argument.description:
                    missing.append(f"{named.name}.{field_name}({argument_name})")
    if isinstance(named, GraphQLEnumType):
        missing += [
            f"{named.name}.{v}" for v, value in named.values.items() if not value.description
        ]
    return missing


@pytest.mark.parametrize("name", list(subgraphs()))
def test_every_type_field_and_argument_is_described(name: str) -> None:
    schema = subgraphs()[name].schema._schema
    missing = [
        what
        for type_name, named in schema.type_map.items()
        if ours(type_name)
        for what in undescribed(named)
    ]
    assert missing == []


def test_every_subgraph_gives_its_root_types_the_graphs_words() -> None:
    for subgraph in subgraphs().values():
        schema = subgraph.schema._schema
        for root, text in (
            (schema.query_type, roots.QUERY),
            (schema.mutation_type, roots.MUTATION),
            (schema.subscription_type, roots.SUBSCRIPTION),
        ):
            if root is not None:
                assert root.description == text, (subgraph.name, root.name)
