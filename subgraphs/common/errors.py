"""GraphQL errors in the graph's own terms: every error a client can act on carries
``extensions.code``; anything else is masked as INTERNAL_SERVER_ERROR by the app."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from graphql import GraphQLError


class Code(StrEnum):
    UNAUTHENTICATED = "UNAUTHENTICATED"
    FORBIDDEN = "FORBIDDEN"
    BAD_USER_INPUT = "BAD_USER_INPUT"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    #: The CPO answered the command with REJECTED (or another refusal).
    COMMAND_REJECTED = "COMMAND_REJECTED"
    #: The CPO did not answer the command, or its charge point never sent the result.
    COMMAND_TIMEOUT = "COMMAND_TIMEOUT"
    #: A subscription was asked to resume from a cursor the platform cannot replay from: the
    #: event log's retention deleted the events after it (docs/policies.md, "Event log").
    CURSOR_UNAVAILABLE = "CURSOR_UNAVAILABLE"
    #: A subscriber read its results too slowly and its queue filled: the subscription ends
    #: here; resume it with `after` set to the last cursor received.
    CLIENT_TOO_SLOW = "CLIENT_TOO_SLOW"
    #: A point outside the active map's area (routing).
    OFF_MAP = "OFF_MAP"
    #: The engine found no way between the points (no road near one, or none connecting).
    NO_ROUTE = "NO_ROUTE"
    #: The routing engine is still opening or building its map; ask again shortly.
    ROUTING_NOT_READY = "ROUTING_NOT_READY"
    #: Every routing worker is busy and its queue is full; ask again shortly.
    ROUTING_BUSY = "ROUTING_BUSY"
    #: The routing engine has no map (it could not be opened or built).
    ROUTING_UNAVAILABLE = "ROUTING_UNAVAILABLE"
    #: No place of the map matches an address or place name (routing's geocoder).
    PLACE_NOT_FOUND = "PLACE_NOT_FOUND"
    #: An address or place name matches distinct places about equally well; say which.
    PLACE_AMBIGUOUS = "PLACE_AMBIGUOUS"
    INTERNAL = "INTERNAL_SERVER_ERROR"
    #: The driver's OpenID Connect provider could not be reached to check their token.
    IDP_UNAVAILABLE = "IDP_UNAVAILABLE"


def error(code: Code, message: str, **extensions: Any) -> GraphQLError:
    """An error for a client: raise it from a resolver."""
    return GraphQLError(message, extensions={"code": code.value, **extensions})


def bad_input(message: str, **extensions: Any) -> GraphQLError:
    return error(Code.BAD_USER_INPUT, message, **extensions)
