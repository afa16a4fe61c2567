"""The ``incar`` command line: run the platform, onboard and list platforms, simulate.

Every failure ends in one line on stderr and a non-zero exit status.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, NoReturn

from incar.settings import Settings, SettingsError


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line on stderr (exit status 2), like every error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _country_code(value: str) -> str:
    if len(value) != 2 or not value.isascii() or not value.isalpha():
        raise argparse.ArgumentTypeError(
            f"country code must be two letters (ISO 3166 alpha-2), got {value!r}"
        )
    return value.upper()


def _party_id(value: str) -> str:
    if len(value) != 3 or not value.isascii() or not value.isalnum():
        raise argparse.ArgumentTypeError(
            f"party id must be 3 letters or digits (ISO 15118), got {value!r}"
        )
    return value.upper()


def _settings(args: argparse.Namespace) -> Settings:
    settings = Settings.from_env()
    changes: dict[str, Any] = {}
    if getattr(args, "host", None):
        changes["host"] = args.host
    if getattr(args, "port", None):
        changes["port"] = args.port
    return settings.with_(**changes) if changes else settings


def _logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx logs every outgoing request at INFO: three lines per broadcast PATCH; the hub logs
    # its own failed hops itself.
    logging.getLogger("httpx").setLevel(logging.WARNING)


def _serve(args: argparse.Namespace) -> int:
    from incar import server
    from incar.db import migrate

    settings = _settings(args)
    if args.workers != 1:
        from incar_cli import platform
        from incar_cli.workers import refusal

        refused = refusal(settings, args.workers)
        if refused is not None:
            print(f"incar serve: {refused}", file=sys.stderr)
            return 2
        migrate(settings.database_url)
        _logging()
        return asyncio.run(platform.serve_workers(settings, args.workers, hub_only=args.hub_only))
    migrate(settings.database_url)
    _logging()
    if args.hub_only:
        from ocpi_adapter.app import create_app

        print(f"INCAR hub on {settings.base_url} (versions: {settings.versions_url})", flush=True)
        return server.run(create_app(settings), settings)
    from incar_cli import platform

    return asyncio.run(platform.serve(settings))


def _subgraph(args: argparse.Namespace) -> int:
    from incar.db import migrate
    from incar_cli import platform

    settings = _settings(args)
    migrate(settings.database_url)
    _logging()
    return asyncio.run(
        platform.serve_subgraph(settings, args.name, port=args.port or settings.subgraphs_port)
    )


def _schema(args: argparse.Namespace) -> int:
    from incar_cli import schema_files

    root = Path(args.dir) if args.dir else schema_files.ROOT
    files = schema_files.all_files(root)
    if args.check:
        stale = schema_files.stale(files)
        if stale:
            names = ", ".join(f"{root.name}/{p.name}" for p in stale)
            print(f"incar schema: stale: {names} (run incar schema)", file=sys.stderr)
            return 1
        print(f"schema/ is current ({len(files)} files)")
        return 0
    for path in schema_files.write(files):
        print(f"wrote {root.name}/{path.name}")
    return 0


async def _login(args: argparse.Namespace) -> int:
    from incar_cli.oidc_login import LoginRefused, login

    try:
        tokens = await login(
            args.issuer.rstrip("/"),
            args.client,
            args.redirect_uri,
            args.user,
            args.password,
            resource=args.audience,
        )
    except (LoginRefused, OSError) as problem:
        print(f"incar login: {problem}", file=sys.stderr)
        return 1
    print(tokens.access_token)
    return 0


def _migrate(args: argparse.Namespace) -> int:
    from incar.db import migrate

    settings = _settings(args)
    migrate(settings.database_url)
    print(f"database at head: {settings.database_url}")
    return 0


async def _platform_add(args: argparse.Namespace) -> int:
    from incar.db import Database, migrate_async
    from ocpi_adapter.platforms import callers
    from ocpi_adapter.platforms import service as platforms
    from ocpi_adapter.types import Role

    settings = _settings(args)
    await migrate_async(settings.database_url)
    db = Database(settings.database_url)
    try:
        async with db.transaction() as tx:
            _, token = await platforms.onboard(
                tx,
                name=args.name,
                role=Role(args.role),
                country_code=args.country,
                party_id=args.party,
                legacy_raw_token=args.legacy_raw_token,
            )
            await callers.announce(tx)
    finally:
        await db.dispose()
    if args.json:
        print(json.dumps({"token": token, "versions_url": settings.versions_url}))
    else:
        print(f"registration token (A): {token}")
        print(f"hub versions URL:       {settings.versions_url}")
    return 0


async def _platform_connect(args: argparse.Namespace) -> int:
    from incar.db import migrate_async
    from incar.runtime import Runtime
    from ocpi_adapter.app import create_hub
    from ocpi_adapter.credentials import flows

    settings = _settings(args)
    await migrate_async(settings.database_url)
    runtime = Runtime.create(settings)
    await runtime.start()
    hub = create_hub(runtime)
    try:
        platform = await flows.connect(
            hub,
            versions_url=args.versions_url,
            token_a=args.token,
            legacy_raw_token=args.legacy_raw_token,
        )
    finally:
        await hub.close()
        await runtime.close()
    print(f"connected to {platform.name} ({platform.versions_url})")
    return 0


async def _platform_list(args: argparse.Namespace) -> int:
    from incar.db import Database, migrate_async
    from ocpi_adapter.platforms import service as platforms

    settings = _settings(args)
    await migrate_async(settings.database_url)
    db = Database(settings.database_url)
    try:
        async with db.transaction() as tx:
            rows = await platforms.list_all(tx)
    finally:
        await db.dispose()
    listing: list[dict[str, Any]] = [
        {
            "id": platform.id,
            "name": platform.name,
            "status": str(platform.status),
            "versions_url": platform.versions_url,
            "roles": [f"{p.role} {p.country_code}*{p.party_id}" for p in parties],
        }
        for platform, parties in rows
    ]
    if args.json:
        print(json.dumps(listing))
        return 0
    if not listing:
        print("no platforms yet: onboard one with `incar platform add`")
        return 0
    print(f"{'ID':>3}  {'STATUS':<10} {'NAME':<28} ROLES")
    for item in listing:
        print(
            f"{item['id']:>3}  {item['status']:<10} {item['name']:<28} {', '.join(item['roles'])}"
        )
    return 0


async def _hub_owed(args: argparse.Namespace) -> int:
    from incar.db import Database, migrate_async
    from ocpi_adapter.owed import report

    settings = _settings(args)
    await migrate_async(settings.database_url)
    db = Database(settings.database_url)
    try:
        async with db.transaction(snapshot=True) as tx:
            found = await report.receivers(tx)
    finally:
        await db.dispose()
    if args.json:
        print(json.dumps([receiver.as_json() for receiver in found]))
        return 0
    if not found:
        print("nothing owed, no receiver out of sync")
        return 0
    print(
        f"{'ID':>3}  {'RECEIVER':<28} {'STATUS':<10} {'OWED':>6} {'RETRY':>5} {'OLDEST':>8} "
        f"{'BEHIND':>6} {'FAILS':>6} {'CUES':>5}  SINCE"
    )
    for r in found:
        oldest = f"{r.oldest_age:.1f}s" if r.oldest_age is not None else "-"
        since = r.since.isoformat() if r.since else "-"
        print(
            f"{r.platform_id:>3}  {r.name[:28]:<28} {r.status:<10} {r.owed:>6} {r.retrying:>5} "
            f"{oldest:>8} {r.out_of_sync:>6} {r.failures:>6} {r.cues_queued:>5}  {since}"
        )
    return 0


def _add_simulated_parties(parser: argparse.ArgumentParser, *, demo: bool = False) -> None:
    from simulator.cli import add_arguments

    parser.add_argument("--cpos", type=int, default=2, help="simulated CPOs (default 2)")
    parser.add_argument("--emsps", type=int, default=2, help="simulated eMSPs (default 2)")
    parser.add_argument(
        "--country", default="FI", type=_country_code, help="their country code (default FI)"
    )
    add_arguments(parser, demo=demo)


async def _simulate(args: argparse.Namespace) -> int:
    from incar.db import Database, migrate_async
    from incar_cli.demo import onboard_simulated
    from simulator.cli import run

    settings = _settings(args)
    await migrate_async(settings.database_url)
    db = Database(settings.database_url)
    try:
        parties = await onboard_simulated(
            db, country_code=args.country, cpos=args.cpos, emsps=args.emsps
        )
    finally:
        await db.dispose()
    return await run(args, parties)


async def _demo(args: argparse.Namespace) -> int:
    from incar.db import migrate_async
    from incar_cli.demo import run

    settings = _settings(args)
    await migrate_async(settings.database_url)
    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    return await run(settings, args)


async def _cdrs_export(args: argparse.Namespace) -> int:
    from incar_cli.cdrs_command import run_export

    return await run_export(_settings(args), args)


def _map_import(args: argparse.Namespace) -> int:
    from incar_cli.map_command import run_import

    return run_import(_settings(args), Path(args.file), region=args.region)


def _map_show(args: argparse.Namespace) -> int:
    from incar_cli.map_command import run_show

    return run_show(_settings(args), as_json=args.json)


def _add_map(commands: Any) -> None:
    region = commands.add_parser(
        "map", help="the map the platform routes on: import an OpenStreetMap extract, show it"
    )
    actions = region.add_subparsers(dest="action", required=True, metavar="ACTION")
    importing = actions.add_parser(
        "import",
        help="build routing tiles from an .osm.pbf extract beside the active map and switch "
        "to them once complete",
    )
    importing.add_argument("file", help="an OpenStreetMap extract (.osm.pbf)")
    importing.add_argument("--region", help="its name (default: from the file's name)")
    importing.set_defaults(run=_map_import)
    show = actions.add_parser("show", help="the active map: region, source, tiles, built-at")
    show.add_argument("--json", action="store_true", help="print its manifest as JSON")
    show.set_defaults(run=_map_show)


def _add_ledger(commands: Any) -> None:
    from incar_cli import ledger_admin, ledger_command

    ledger = commands.add_parser(
        "ledger",
        help="the tamper-evident CDR ledger: verify it whole, prove a CDR's entry, its "
        "BigchainDB outbox, its backfill",
    )
    actions = ledger.add_subparsers(dest="action", required=True, metavar="ACTION")
    ledger_command.add(actions, _run_async)
    ledger_admin.add(actions, settings=_settings)


def _tariff_price(args: argparse.Namespace) -> int:
    from incar_cli.tariff_price import run

    tariff = Path(args.tariff) if args.tariff else None
    return run(Path(args.cdr), tariff, time_zone=args.time_zone, as_json=args.json)


def _add_tariff(commands: Any) -> None:
    tariff = commands.add_parser("tariff", help="price with the hub's tariff calculator")
    actions = tariff.add_subparsers(dest="action", required=True, metavar="ACTION")
    price = actions.add_parser(
        "price",
        help="price a CDR against its tariffs as the hub checks it: the breakdown, total_cost "
        "excl. and incl. VAT, and whether the CDR's own total_cost matches (exit 0 when "
        "priced, 1 when it cannot be priced)",
    )
    price.add_argument("--cdr", required=True, help="a file with one OCPI 2.2.1 CDR (JSON)")
    price.add_argument(
        "--tariff",
        help="a file with one Tariff or a list of Tariffs (default: the CDR's own tariffs)",
    )
    price.add_argument(
        "--time-zone",
        help="the Location's time_zone (IANA), for tariffs restricted by local time",
    )
    price.add_argument("--json", action="store_true", help="print the result as JSON")
    price.set_defaults(run=_tariff_price)


def _run_async(
    function: Callable[[argparse.Namespace], Coroutine[Any, Any, int]],
) -> Callable[[argparse.Namespace], int]:
    return lambda args: asyncio.run(function(args))


def _add_login(commands: Any) -> None:
    from incar_cli.oidc_login import DEMO_AUDIENCE, DEMO_CLIENT, DEMO_REDIRECT

    login = commands.add_parser(
        "login",
        help="log a driver in at an OpenID Connect provider (code + PKCE) and print the "
        "access token (the demo's provider, or any with a plain login form)",
    )
    login.add_argument("issuer", help="the issuer URL, e.g. http://127.0.0.1:PORT/realms/NAME")
    login.add_argument("--user", required=True)
    login.add_argument("--password", required=True)
    login.add_argument("--client", default=DEMO_CLIENT)
    login.add_argument("--redirect-uri", default=DEMO_REDIRECT)
    login.add_argument("--audience", default=DEMO_AUDIENCE, help="the resource indicator")
    login.set_defaults(run=_run_async(_login))


def _add_hub(commands: Any) -> None:
    hub = commands.add_parser("hub", help="what the OCPI hub owes its parties")
    hub_actions = hub.add_subparsers(dest="action", required=True, metavar="ACTION")
    owed = hub_actions.add_parser(
        "owed",
        help="per receiver: copies owed and the oldest's age, retries, owners it is out of "
        "sync with, failures recorded, resync cues",
    )
    owed.add_argument("--json", action="store_true", help="print them as JSON")
    owed.set_defaults(run=_run_async(_hub_owed))


def _add_schema(commands: Any) -> None:
    schema = commands.add_parser(
        "schema", help="write each subgraph's SDL and the composed supergraph to schema/"
    )
    schema.add_argument(
        "--check", action="store_true", help="write nothing; fail if a file is stale"
    )
    schema.add_argument("--dir", help="the folder of the files (default: the project's schema/)")
    schema.set_defaults(run=_schema)


def _add_cdrs(commands: Any) -> None:
    from incar_cli.cdrs_command import add_export

    add_export(commands, _run_async(_cdrs_export))


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="incar", description="INCAR: an OCPI 2.2.1 roaming hub and federated GraphQL platform"
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = commands.add_parser(
        "serve",
        help="run the platform: the OCPI hub, the subgraphs and the gateway (migrates first)",
    )
    serve.add_argument("--host", help="address to listen on (default INCAR_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default INCAR_PORT or 8080)")
    serve.add_argument(
        "--hub-only",
        action="store_true",
        help="run the OCPI hub alone, without the subgraphs and the gateway",
    )
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="N hub processes on one address (PostgreSQL only; the subgraphs and the gateway"
        " run once beside them)",
    )
    serve.set_defaults(run=_serve)

    subgraph = commands.add_parser("subgraph", help="run one subgraph alone")
    subgraph.add_argument(
        "name", choices=["locations", "sessions", "bookings", "routing", "accounting", "kpis"]
    )
    subgraph.add_argument("--host", help="address to listen on (default INCAR_HOST)")
    subgraph.add_argument("--port", type=int, help="default INCAR_SUBGRAPHS_PORT or 8081")
    subgraph.set_defaults(run=_subgraph)

    demo = commands.add_parser(
        "demo", help="run the hub with simulated CPOs and eMSPs on the Helsinki map"
    )
    demo.add_argument("--host", help="address to listen on (default INCAR_HOST or 127.0.0.1)")
    demo.add_argument("--port", type=int, help="port to listen on (default INCAR_PORT or 8080)")
    _add_simulated_parties(demo, demo=True)
    demo.set_defaults(run=_run_async(_demo))

    simulate = commands.add_parser(
        "simulate", help="run simulated CPOs and eMSPs against a serving hub"
    )
    _add_simulated_parties(simulate)
    simulate.set_defaults(run=_run_async(_simulate))

    _add_schema(commands)
    _add_login(commands)
    _add_map(commands)
    _add_tariff(commands)

    _add_ledger(commands)
    _add_cdrs(commands)

    migrate = commands.add_parser("migrate", help="bring the database schema up to date")
    migrate.set_defaults(run=_migrate)

    _add_hub(commands)

    platform = commands.add_parser("platform", help="onboard, connect and list platforms")
    actions = platform.add_subparsers(dest="action", required=True, metavar="ACTION")

    add = actions.add_parser("add", help="onboard a platform: issue its registration token A")
    add.add_argument(
        "--role", required=True, choices=["CPO", "EMSP", "NSP", "NAP", "OTHER", "SCSP"]
    )
    add.add_argument(
        "--country", required=True, type=_country_code, help="ISO 3166 alpha-2 country code"
    )
    add.add_argument("--party", required=True, type=_party_id, help="party id (3 characters)")
    add.add_argument("--name", required=True, help="the platform's name")
    add.add_argument(
        "--legacy-raw-token",
        action="store_true",
        help="the peer sends and expects tokens without Base64 (OCPI 2.1.1/2.2)",
    )
    add.add_argument("--json", action="store_true", help="print {token, versions_url} as JSON")
    add.set_defaults(run=_run_async(_platform_add))

    connect = actions.add_parser(
        "connect", help="register the hub at a platform that issued it a token A (hub as Sender)"
    )
    connect.add_argument("--versions-url", required=True)
    connect.add_argument(
        "--token",
        required=True,
        help="the token A the platform issued (write --token=VALUE when it begins with -)",
    )
    connect.add_argument("--legacy-raw-token", action="store_true")
    connect.set_defaults(run=_run_async(_platform_connect))

    listing = actions.add_parser("list", help="platforms with their roles and status")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(run=_run_async(_platform_list))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    from ocpi_adapter.errors import OcpiError

    args = build_parser().parse_args(argv)
    try:
        code: int = args.run(args)
    except SettingsError as error:
        print(f"incar: configuration error: {error}", file=sys.stderr)
        return 2
    except OcpiError as error:
        print(f"incar: {error.message} (OCPI status {int(error.status)})", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except Exception as error:  # an operator gets one line, not a traceback
        detail = str(error).strip().splitlines()
        reason = f"{type(error).__name__}: {detail[0]}" if detail else type(error).__name__
        command = " ".join(filter(None, [args.command, getattr(args, "action", None)]))
        print(f"incar: {command} failed: {reason}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":
    sys.exit(main())
