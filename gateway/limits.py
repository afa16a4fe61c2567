"""The graph's limits, read from ``limits.json`` beside this file.

One file because two runtimes enforce them: Hive Gateway (``gateway.config.mjs`` reads the JSON)
and every Strawberry subgraph (``subgraphs.common.app``). A subgraph refusing what the gateway
accepted, or the other way round, would only show as a confusing error far from its cause.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

LIMITS_PATH = Path(__file__).with_name("limits.json")


@dataclass(frozen=True, kw_only=True)
class Limits:
    """What one GraphQL operation may ask for; ``docs/gateway.md`` explains each value."""

    max_depth: int
    max_aliases: int
    max_tokens: int
    max_batch: int
    list_size: int
    max_cost: int
    max_subscriptions_per_connection: int
    #: Lists known to be shorter (an EVSE's connectors) or longer (a page of stations, up to
    #: its cap) than ``list_size``: "Type.field" to the most items it returns.
    list_sizes: dict[str, int]


@cache
def limits() -> Limits:
    raw = json.loads(LIMITS_PATH.read_text())
    return Limits(**raw)
