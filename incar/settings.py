"""Configuration, read once from ``INCAR_*`` environment variables.

Every variable is documented in the README; this module is the only place that reads them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Literal

from incar.identity.issuers import TrustedIssuer, parse_trusted_issuers

ValidationMode = Literal["validating", "transparent"]


class SettingsError(ValueError):
    """A configuration variable has a value the platform cannot use."""


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None


def _positive_int(name: str, default: int) -> int:
    value = _int(name, default)
    if value < 1:
        raise SettingsError(f"{name} must be a positive integer, got {value}")
    return value


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


def _int_at_least(name: str, default: int, minimum: int) -> int:
    value = _int(name, default)
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {value}")
    return value


def _seconds(name: str, default: float) -> float:
    """A timeout: a positive number of seconds (zero or less would close every connection)."""
    value = _float(name, default)
    if not 0 < value < float("inf"):  # NaN fails this too
        raise SettingsError(f"{name} must be a positive number of seconds, got {value}")
    return value


def _port(name: str, default: int) -> int:
    value = _int(name, default)
    if not 0 <= value <= 65535:
        raise SettingsError(f"{name} must be a TCP port (0 to 65535), got {value}")
    return value


def _non_negative_seconds(name: str, default: float) -> float:
    value = _float(name, default)
    if not 0 <= value < float("inf"):
        raise SettingsError(f"{name} must be zero or a positive number of seconds, got {value}")
    return value


def _metrics_token(name: str) -> str:
    """A bearer token for /metrics: sent in a header, so printable ASCII without spaces; short
    ones would be guessable."""
    raw = os.environ.get(name, "")
    if raw and (len(raw) < 16 or not all("!" <= c <= "~" for c in raw)):
        raise SettingsError(f"{name} must be at least 16 printable ASCII characters without spaces")
    return raw


def _trusted_issuers(name: str) -> tuple[TrustedIssuer, ...]:
    """Inline JSON (it starts with "[", or "{" to be told it must be a list) or a file's path."""
    raw = os.environ.get(name, "").strip()
    if not raw:
        return ()
    if raw.startswith(("[", "{")):
        text, source = raw, name
    else:
        try:
            text, source = Path(raw).read_text(encoding="utf-8"), f"{name} ({raw})"
        except OSError as error:
            raise SettingsError(f"{name}: cannot read {raw}: {error.strerror}") from None
    try:
        return parse_trusted_issuers(text)
    except ValueError as error:
        raise SettingsError(f"{source}: {error}") from None


@dataclass(frozen=True)
class Settings:
    data_dir: Path = Path("var")
    database_url: str = ""
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""
    hub_country_code: str = "FI"
    hub_party_id: str = "ICR"
    hub_name: str = "INCAR Hub"
    hub_website: str | None = None
    forward_timeout: float = 10.0
    still_alive_interval: float = 300.0
    still_alive_check_period: float = 30.0
    #: How often an OFFLINE platform is pinged between still-alive rounds: an OFFLINE party
    #: gets no copies, so only a ping notices its return (and cues it to resynchronise).
    offline_probe_period: float = 5.0
    max_body_bytes: int = 1_048_576
    #: A peer's answer the hub reads before it gives up (4003). 16 MiB: a page of 100 Locations
    #: with 50 fully described EVSEs each is about 5 MiB as compact JSON, twice that indented.
    max_answer_bytes: int = 16 * 1_048_576
    # Limits of the HTTP server (incar/http_limits.py): what a slow or hostile client may hold.
    max_head_bytes: int = 32_768
    head_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = 20.0
    #: How far ahead of the hub's clock a last_updated may be (a wrong clock or a poisoned
    #: stamp would otherwise make every later update of the object stale).
    max_clock_skew: float = 300.0
    page_limit: int = 100
    #: The backstop of the owed-copies sender (ocpi_adapter/owed): how often it looks for rows
    #: it was not handed in process (left by a crash, or written by another process).
    owed_poll: float = 5.0
    #: Copies to one receiver in flight at once (copies of one object always one at a time).
    owed_per_receiver: int = 64
    #: Seconds a cached caller or registry read is kept (ocpi_adapter/platforms/callers.py).
    #: Every change is announced to every process, CLI commands' too; this bounds only what a
    #: lost announcement (a bus listener reconnecting) can leave stale.
    registry_cache_ttl: float = 2.0
    #: Seconds a failed copy is retried for (an operator's option, off by default: OCPI says
    #: a failed push is not retried; check 58). Within that time the latest copy of an object
    #: is attempted again with a growing pause; after it the receiver is cued as without it.
    owed_retry_for: float = 0.0
    #: The bearer token a scraper of /metrics must send; empty, /metrics answers loopback
    #: clients only (ocpi_adapter/metrics.py).
    metrics_token: str = ""
    validation: ValidationMode = "validating"
    command_grace: float = 60.0
    event_bus: str = "memory"
    #: The event log's retention (incar.events.log.Retention): an event goes once it is both
    #: older than this many seconds and not among the newest ``event_log_keep_count``.
    event_log_keep_seconds: float = 7 * 24 * 3600.0
    event_log_keep_count: int = 1_000_000
    #: The eMSPs' OpenID Connect issuers whose drivers' access tokens the platform accepts.
    oidc_issuers: tuple[TrustedIssuer, ...] = ()
    #: How far a token's exp, nbf and iat may be off the platform's clock (the provider's and
    #: the platform's clocks differ a little).
    oidc_leeway: float = 30.0
    #: The least time between two fetches of one issuer's keys (an unknown kid asks again).
    oidc_jwks_refetch_interval: float = 60.0
    #: Where the subgraphs listen (all in one process in the embedded default) and where the
    #: gateway serves the graph (GraphQL and GraphiQL at /graphql).
    subgraphs_port: int = 8081
    gateway_port: int = 4000
    #: The hub's Ed25519 key (incar/hub_key.py); by default ledger-ed25519.pem in data_dir.
    ledger_key_file: Path | None = None
    #: The CDR ledger's origin, the first line of its checkpoints and the name its key signs
    #: under; by default incar/<hub country code>-<hub party id>/cdrs.
    ledger_origin: str = ""
    #: The routing engine's worker threads (each with its own Valhalla Actor and tile cache)
    #: and how many requests may wait for one before ROUTING_BUSY.
    routing_workers: int = 2
    routing_queue: int = 64
    #: A BigchainDB node's root URL (as bigchaindb-driver's ``BigchainDB(url)``): each ledger
    #: transaction is also posted there from a durable outbox; empty, the ledger is embedded.
    bigchaindb_url: str = ""
    bigchaindb_timeout: float = 10.0
    #: The outbox's backoff after a failed post: from the first delay, doubled each time, up
    #: to the longest (then every longest), each waited a random 50-100% of (jitter).
    bigchaindb_retry_first: float = 1.0
    bigchaindb_retry_longest: float = 300.0
    #: How often the outbox looks for entries owed (another hub process may have written them).
    bigchaindb_poll_interval: float = 1.0
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def subgraphs_url(self) -> str:
        return f"http://{self.host}:{self.subgraphs_port}"

    @property
    def gateway_url(self) -> str:
        return f"http://{self.host}:{self.gateway_port}/graphql"

    @property
    def base_url(self) -> str:
        """The URL peers use to reach the hub, without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def ledger_key_path(self) -> Path:
        return self.ledger_key_file or self.data_dir / "ledger-ed25519.pem"

    @property
    def ledger_name(self) -> str:
        return self.ledger_origin or f"incar/{self.hub_country_code}-{self.hub_party_id}/cdrs"

    @property
    def versions_url(self) -> str:
        return f"{self.base_url}/ocpi/versions"

    def with_(self, **changes: object) -> Settings:
        return replace(self, **changes)  # type: ignore[arg-type]

    @classmethod
    def from_env(cls) -> Settings:
        data_dir = Path(os.environ.get("INCAR_DATA_DIR") or "var")
        database_url = os.environ.get("INCAR_DATABASE_URL") or (
            f"sqlite+aiosqlite:///{(data_dir / 'incar.db').as_posix()}"
        )
        validation = os.environ.get("INCAR_VALIDATION", "validating")
        if validation not in ("validating", "transparent"):
            raise SettingsError(
                f"INCAR_VALIDATION must be 'validating' or 'transparent', got {validation!r}"
            )
        event_bus = os.environ.get("INCAR_EVENT_BUS", "memory")
        if event_bus not in ("memory", "postgres"):
            raise SettingsError(
                f"INCAR_EVENT_BUS must be 'memory' or 'postgres', got {event_bus!r}"
            )
        cc = os.environ.get("INCAR_HUB_COUNTRY_CODE", "FI")
        pid = os.environ.get("INCAR_HUB_PARTY_ID", "ICR")
        if len(cc) != 2 or len(pid) != 3 or not (cc + pid).isalnum():
            raise SettingsError(
                "INCAR_HUB_COUNTRY_CODE must be 2 and INCAR_HUB_PARTY_ID 3 letters or digits"
            )
        origin = os.environ.get("INCAR_LEDGER_ORIGIN", "")
        if origin and (any(c.isspace() for c in origin) or "+" in origin):
            # A signed note's key name may hold neither (c2sp.org/signed-note).
            raise SettingsError(f"INCAR_LEDGER_ORIGIN must have no spaces and no '+': {origin!r}")
        key_file = os.environ.get("INCAR_LEDGER_KEY_FILE")
        bigchaindb_url = os.environ.get("INCAR_BIGCHAINDB_URL", "").strip().rstrip("/")
        if bigchaindb_url and not bigchaindb_url.startswith(("http://", "https://")):
            raise SettingsError(
                f"INCAR_BIGCHAINDB_URL must be an http:// or https:// URL, got {bigchaindb_url!r}"
            )
        retry_first = _seconds("INCAR_BIGCHAINDB_RETRY_FIRST", 1.0)
        retry_longest = _seconds("INCAR_BIGCHAINDB_RETRY_LONGEST", 300.0)
        if retry_longest < retry_first:
            raise SettingsError(
                "INCAR_BIGCHAINDB_RETRY_LONGEST must be at least INCAR_BIGCHAINDB_RETRY_FIRST"
            )
        return cls(
            data_dir=data_dir,
            database_url=database_url,
            host=os.environ.get("INCAR_HOST", "127.0.0.1"),
            port=_int("INCAR_PORT", 8080),
            public_url=os.environ.get("INCAR_PUBLIC_URL", ""),
            hub_country_code=cc.upper(),
            hub_party_id=pid.upper(),
            hub_name=os.environ.get("INCAR_HUB_NAME", "INCAR Hub"),
            hub_website=os.environ.get("INCAR_HUB_WEBSITE") or None,
            forward_timeout=_float("INCAR_FORWARD_TIMEOUT", 10.0),
            still_alive_interval=_float("INCAR_STILL_ALIVE_INTERVAL", 300.0),
            still_alive_check_period=_float("INCAR_STILL_ALIVE_CHECK_PERIOD", 30.0),
            offline_probe_period=_seconds("INCAR_OFFLINE_PROBE_PERIOD", 5.0),
            max_body_bytes=_int("INCAR_MAX_BODY_BYTES", 1_048_576),
            max_answer_bytes=_positive_int("INCAR_MAX_ANSWER_BYTES", 16 * 1_048_576),
            # Below 1 KiB even the OCPI headers of an ordinary request would not fit.
            max_head_bytes=_int_at_least("INCAR_MAX_HEAD_BYTES", 32_768, 1024),
            head_timeout=_seconds("INCAR_HEAD_TIMEOUT", 10.0),
            body_timeout=_seconds("INCAR_BODY_TIMEOUT", 30.0),
            idle_timeout=_seconds("INCAR_IDLE_TIMEOUT", 20.0),
            max_clock_skew=_seconds("INCAR_MAX_CLOCK_SKEW", 300.0),
            page_limit=_int("INCAR_PAGE_LIMIT", 100),
            owed_poll=_seconds("INCAR_OWED_POLL", 5.0),
            owed_per_receiver=_positive_int("INCAR_OWED_PER_RECEIVER", 64),
            registry_cache_ttl=_seconds("INCAR_REGISTRY_CACHE_TTL", 2.0),
            owed_retry_for=_non_negative_seconds("INCAR_OWED_RETRY_FOR", 0.0),
            metrics_token=_metrics_token("INCAR_METRICS_TOKEN"),
            validation=validation,  # type: ignore[arg-type]
            command_grace=_float("INCAR_COMMAND_GRACE", 60.0),
            event_bus=event_bus,
            event_log_keep_seconds=_non_negative_seconds(
                "INCAR_EVENT_LOG_KEEP_SECONDS", 7 * 24 * 3600.0
            ),
            event_log_keep_count=_int_at_least("INCAR_EVENT_LOG_KEEP_COUNT", 1_000_000, 0),
            oidc_issuers=_trusted_issuers("INCAR_OIDC_ISSUERS"),
            oidc_leeway=_non_negative_seconds("INCAR_OIDC_LEEWAY", 30.0),
            oidc_jwks_refetch_interval=_seconds("INCAR_OIDC_JWKS_REFETCH_INTERVAL", 60.0),
            subgraphs_port=_port("INCAR_SUBGRAPHS_PORT", 8081),
            gateway_port=_port("INCAR_GATEWAY_PORT", 4000),
            ledger_key_file=Path(key_file) if key_file else None,
            ledger_origin=origin,
            routing_workers=_positive_int("INCAR_ROUTING_WORKERS", 2),
            routing_queue=_positive_int("INCAR_ROUTING_QUEUE", 64),
            bigchaindb_url=bigchaindb_url,
            bigchaindb_timeout=_seconds("INCAR_BIGCHAINDB_TIMEOUT", 10.0),
            bigchaindb_retry_first=retry_first,
            bigchaindb_retry_longest=retry_longest,
            bigchaindb_poll_interval=_seconds("INCAR_BIGCHAINDB_POLL_INTERVAL", 1.0),
        )
