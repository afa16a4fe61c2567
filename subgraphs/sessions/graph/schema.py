"""The sessions subgraph: the driver (``me``), their tokens and charging sessions, starting
and stopping charging, and live progress."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Mapping
from datetime import datetime
from typing import Annotated, Any, Self, cast

import strawberry
from strawberry.dataloader import DataLoader
from strawberry.scalars import JSON
from strawberry.types import Info

from incar.timestamps import parse_timestamp
from subgraphs.bookings import service as bookings
from subgraphs.common import event_cursor, roots
from subgraphs.common.app import federation_schema
from subgraphs.common.arguments import CountryCode, First, PartyId
from subgraphs.common.commands import CommandSent, CommandType, Delivery
from subgraphs.common.context import GraphContext, Viewer, ViewerKind
from subgraphs.common.errors import Code, bad_input, error
from subgraphs.common.keys import reference_key, sent_fields
from subgraphs.common.money import Price
from subgraphs.sessions import service
from subgraphs.sessions.models import Command as CommandRow
from subgraphs.sessions.models import Session as SessionRow

EvseKey = tuple[str, str, str, str]
SessionKey = tuple[str, str, str]


def _may_see(viewer: Viewer, row: SessionRow) -> bool:
    """A session is its driver's, their eMSP's and its CPO's; nobody else sees it."""
    if viewer.kind is ViewerKind.DRIVER:
        return (
            viewer.party == (row.emsp_country_code, row.emsp_party_id)
            and viewer.token_uid == row.token_uid
        )
    if viewer.kind is ViewerKind.PARTY:
        return viewer.party in (
            (row.country_code, row.party_id),
            (row.emsp_country_code, row.emsp_party_id),
        )
    return False


SessionId = Annotated[
    str, strawberry.argument(description="The session's id, unique for its CPO (the owner).")
]
Statuses = Annotated[
    list[str] | None,
    strawberry.argument(
        description="Only sessions in these OCPI states (ACTIVE, COMPLETED, INVALID, PENDING, "
        "RESERVATION); all when left out."
    ),
]


@strawberry.federation.type(
    keys=["countryCode partyId locationId uid"],
    description="An EVSE (of the locations subgraph), with the session charging on it.",
)
class Evse:
    country_code: str = strawberry.field(description="Country of the CPO that operates it.")
    party_id: str = strawberry.field(description="Party id of the CPO that operates it.")
    location_id: str = strawberry.field(description="Its Location's id.")
    uid: str = strawberry.field(description="The EVSE's uid.")

    @classmethod
    def resolve_reference(cls, info: Info[GraphContext, None], **key: Any) -> Self:
        return cls(
            country_code=key["countryCode"],
            party_id=key["partyId"],
            location_id=key["locationId"],
            uid=key["uid"],
        )

    def _key(self) -> EvseKey:
        return (
            self.country_code.upper(),
            self.party_id.upper(),
            self.location_id.upper(),
            self.uid.upper(),
        )

    @strawberry.field(description="Whether a charging session is in progress on it.")
    async def in_use(self, info: Info[GraphContext, None]) -> bool:
        return await _active_loader(info.context).load(self._key()) is not None

    @strawberry.field(
        description="The session in progress on it, if the viewer may see it (its driver, "
        "their eMSP, the CPO); null otherwise."
    )
    async def active_session(self, info: Info[GraphContext, None]) -> Session | None:
        row = await _active_loader(info.context).load(self._key())
        return Session.of(row) if row and _may_see(info.context.viewer, row) else None


def _active_loader(context: GraphContext) -> DataLoader[EvseKey, SessionRow | None]:
    def make(c: GraphContext) -> DataLoader[EvseKey, SessionRow | None]:
        async def load(keys: list[EvseKey]) -> list[SessionRow | None]:
            async with c.runtime.db.transaction() as tx:
                found = await service.active_on_evses(tx, keys)
            return [found.get(key) for key in keys]

        return DataLoader(load)

    return context.loader("sessions.active_on", make)


def _session_loader(context: GraphContext) -> DataLoader[SessionKey, SessionRow | None]:
    def make(c: GraphContext) -> DataLoader[SessionKey, SessionRow | None]:
        async def load(keys: list[SessionKey]) -> list[SessionRow | None]:
            async with c.runtime.db.transaction() as tx:
                found = await service.sessions_by_key(tx, keys)
            return [found.get(key) for key in keys]

        return DataLoader(load)

    return context.loader("sessions.by_key", make)


@strawberry.federation.type(
    keys=["countryCode partyId id"], description="A charging session as its CPO reports it."
)
class Session:
    country_code: str = strawberry.field(description="Country of the CPO.")
    party_id: str = strawberry.field(description="Party id of the CPO.")
    id: strawberry.ID = strawberry.field(description="The session's id, unique per CPO.")
    row: strawberry.Private[SessionRow]

    @classmethod
    def of(cls, row: SessionRow) -> Session:
        return cls(**sent_fields(row), row=row)

    @classmethod
    async def resolve_reference(cls, info: Info[GraphContext, None], **key: Any) -> Self | None:
        row = await _session_loader(info.context).load(reference_key(key))
        if row is None or not _may_see(info.context.viewer, row):
            return None
        return cls(country_code=row.country_code, party_id=row.party_id, id=key["id"], row=row)

    @property
    def _data(self) -> Mapping[str, Any]:
        return self.row.data

    @strawberry.field(description="PENDING, ACTIVE, COMPLETED, INVALID or RESERVATION.")
    def status(self) -> str:
        return str(self._data.get("status", ""))

    @strawberry.field(description="Energy charged so far, in kWh.")
    def kwh(self) -> float:
        return float(self._data.get("kwh") or 0)

    @strawberry.field(description="When it started (UTC).")
    def start_date_time(self) -> datetime | None:
        value = self._data.get("start_date_time")
        return parse_timestamp(value) if isinstance(value, str) else None

    @strawberry.field(description="When it ended (UTC), if it has.")
    def end_date_time(self) -> datetime | None:
        value = self._data.get("end_date_time")
        return parse_timestamp(value) if isinstance(value, str) else None

    @strawberry.field(description="Its cost so far, as the CPO computes it.")
    def total_cost(self) -> Price | None:
        return Price.of(self._data.get("total_cost"))

    @strawberry.field(description="ISO 4217 currency of its cost.")
    def currency(self) -> str:
        return str(self._data.get("currency", ""))

    @strawberry.field(description="How it was authorised (AUTH_REQUEST, COMMAND, WHITELIST).")
    def auth_method(self) -> str | None:
        value = self._data.get("auth_method")
        return value if isinstance(value, str) else None

    @strawberry.field(description="Its charging periods as the CPO reports them (OCPI).")
    def charging_periods(self) -> JSON:
        return cast(JSON, self._data.get("charging_periods") or [])

    @strawberry.field(description="The EVSE it charges on.")
    def evse(self) -> Evse | None:
        location, uid = self._data.get("location_id"), self._data.get("evse_uid")
        if not isinstance(location, str) or not isinstance(uid, str):
            return None
        return Evse(
            country_code=self.country_code, party_id=self.party_id, location_id=location, uid=uid
        )

    @strawberry.field(description="The connector it charges on.")
    def connector_id(self) -> str | None:
        value = self._data.get("connector_id")
        return value if isinstance(value, str) else None

    @strawberry.field(description="When its CPO last changed it.")
    def last_updated(self) -> datetime:
        return self.row.last_updated


@strawberry.type(description="A driver's token, as their eMSP published it to the hub.")
class Token:
    data: strawberry.Private[Mapping[str, Any]]

    @strawberry.field(description="The token's uid (RFID uid, app user id, ...).")
    def uid(self) -> str:
        return str(self.data.get("uid", ""))

    @strawberry.field(description="RFID, APP_USER, AD_HOC_USER or OTHER.")
    def type(self) -> str:
        return str(self.data.get("type", ""))

    @strawberry.field(description="The contract id (eMA id) it belongs to.")
    def contract_id(self) -> str:
        return str(self.data.get("contract_id", ""))

    @strawberry.field(description="What is printed on the card, if any.")
    def visual_number(self) -> str | None:
        value = self.data.get("visual_number")
        return value if isinstance(value, str) else None

    @strawberry.field(description="Who issued it.")
    def issuer(self) -> str:
        return str(self.data.get("issuer", ""))

    @strawberry.field(description="Whether it may be used.")
    def valid(self) -> bool:
        return self.data.get("valid") is True


@strawberry.federation.type(
    keys=["countryCode partyId tokenUid"],
    description="The logged-in driver: a customer of an eMSP, known to the hub by a token.",
)
class Driver:
    country_code: str = strawberry.field(description="Country of the driver's eMSP.")
    party_id: str = strawberry.field(description="Party id of the driver's eMSP.")
    token_uid: str = strawberry.field(description="The driver's OCPI token uid.")

    @classmethod
    def resolve_reference(cls, info: Info[GraphContext, None], **key: Any) -> Self | None:
        viewer = info.context.viewer
        wanted = (key["countryCode"].upper(), key["partyId"].upper(), key["tokenUid"].upper())
        if (
            viewer.kind is not ViewerKind.DRIVER
            or (*(viewer.party or ()), viewer.token_uid) != wanted
        ):
            return None  # a driver is only ever themselves
        return cls(country_code=wanted[0], party_id=wanted[1], token_uid=wanted[2])

    @strawberry.field(description="Their tokens, as their eMSP published them.")
    async def tokens(self, info: Info[GraphContext, None]) -> list[Token]:
        async with info.context.runtime.db.transaction() as tx:
            found = await service.tokens_of(
                tx, emsp=(self.country_code, self.party_id), uid=self.token_uid
            )
        return [Token(data=data) for data in found]

    @strawberry.field(description="Their charging sessions, most recent first.")
    async def sessions(
        self,
        info: Info[GraphContext, None],
        first: First = 20,
        statuses: Statuses = None,
    ) -> list[Session]:
        if not 1 <= first <= 100:
            raise bad_input("first: from 1 to 100")
        async with info.context.runtime.db.transaction() as tx:
            rows = await service.sessions_of(
                tx,
                party=(self.country_code, self.party_id),
                token_uid=self.token_uid,
                states=tuple(statuses or ()),
                limit=first,
            )
        return [Session.of(row) for row in rows]


@strawberry.type(description="A command sent for the driver, and what its CPO made of it.")
class ChargingCommand:
    id: strawberry.ID = strawberry.field(description="The command's id.")
    row: strawberry.Private[CommandRow]

    @strawberry.field(description="START_SESSION or STOP_SESSION.")
    def command(self) -> str:
        return self.row.command

    @strawberry.field(description="The CPO's answer (ACCEPTED, REJECTED, ...), once given.")
    def response(self) -> str | None:
        return _result(self.row.response)

    @strawberry.field(description="The charge point's result (ACCEPTED, FAILED, ...), once given.")
    def result(self) -> str | None:
        return _result(self.row.result)


def _result(answer: Any) -> str | None:
    value = answer.get("result") if isinstance(answer, Mapping) else None
    return value if isinstance(value, str) else None


@strawberry.input(description="An EVSE by its CPO, Location and uid.")
class ChargeAtInput:
    country_code: str = strawberry.field(description="Country of the CPO.")
    party_id: str = strawberry.field(description="Party id of the CPO.")
    location_id: str = strawberry.field(description="The Location's id.")
    uid: str = strawberry.field(description="The EVSE's uid.")
    connector_id: str | None = strawberry.field(
        default=None, description="The connector, if the CPO needs to know."
    )


def _sent_error(sent: CommandSent) -> Exception | None:
    if sent.delivery is Delivery.ANSWERED and sent.response == "ACCEPTED":
        return None
    if sent.delivery is Delivery.ANSWERED:
        return error(
            Code.COMMAND_REJECTED,
            f"the CPO answered {sent.response}" + (f": {sent.message}" if sent.message else ""),
            commandId=sent.command_id,
        )
    return error(
        Code.COMMAND_TIMEOUT, sent.message or "the CPO did not answer", commandId=sent.command_id
    )


async def _command(context: GraphContext, command_id: str) -> ChargingCommand:
    async with context.runtime.db.transaction() as tx:
        row = await service.get_command(tx, command_id)
    assert row is not None
    return ChargingCommand(id=strawberry.ID(row.id), row=row)


@strawberry.type(description=roots.QUERY)
class Query:
    @strawberry.field(description="The logged-in driver; UNAUTHENTICATED without a login.")
    def me(self, info: Info[GraphContext, None]) -> Driver:
        viewer = info.context.driver()
        assert viewer.party is not None and viewer.token_uid is not None
        return Driver(
            country_code=viewer.party[0], party_id=viewer.party[1], token_uid=viewer.token_uid
        )

    @strawberry.field(description="One session, if the viewer may see it.")
    async def session(
        self,
        info: Info[GraphContext, None],
        country_code: CountryCode,
        party_id: PartyId,
        id: SessionId,
    ) -> Session | None:
        return await Session.resolve_reference(
            info, countryCode=country_code, partyId=party_id, id=id
        )

    @strawberry.field(
        description="Sessions the viewer may see: a driver their own, a CPO those it runs, "
        "an eMSP its customers'."
    )
    async def sessions(
        self, info: Info[GraphContext, None], first: First = 20, statuses: Statuses = None
    ) -> list[Session]:
        viewer = info.context.viewer
        if viewer.kind is ViewerKind.ANONYMOUS:
            raise error(Code.UNAUTHENTICATED, "log in, or use your OCPI credentials token")
        if not 1 <= first <= 100:
            raise bad_input("first: from 1 to 100")
        async with info.context.runtime.db.transaction() as tx:
            rows = await service.sessions_of(
                tx,
                party=viewer.party,
                token_uid=viewer.token_uid if viewer.kind is ViewerKind.DRIVER else None,
                states=tuple(statuses or ()),
                limit=first,
            )
        return [Session.of(row) for row in rows]


@strawberry.type(description=roots.MUTATION)
class Mutation:
    @strawberry.mutation(
        description="Starts charging for the logged-in driver: START_SESSION goes to the CPO "
        "on behalf of their eMSP (with their booking of this EVSE, if they hold one). The "
        "CPO's answer is here; the charge point's result and then the session follow on "
        "`chargingUpdates`. An EVSE booked by someone else is refused (CONFLICT) before "
        "anything is sent."
    )
    async def start_charging(
        self,
        info: Info[GraphContext, None],
        evse: Annotated[ChargeAtInput, strawberry.argument(description="Where to charge.")],
    ) -> ChargingCommand:
        context = info.context
        viewer = context.driver()
        assert viewer.party is not None and viewer.token_uid is not None
        ref = bookings.EvseRef((evse.country_code, evse.party_id), evse.location_id, evse.uid)
        async with context.runtime.db.transaction() as tx:
            held = await bookings.holding(tx, ref, context.now())
            token = await service.find_token(tx, emsp=viewer.party, uid=viewer.token_uid)
            busy = await service.active_on(
                tx, cpo=ref.cpo, location_id=ref.location_id, evse_uid=ref.evse_uid
            )
        own = held is not None and (
            (held.emsp_country_code, held.emsp_party_id, held.token_uid)
            == (*viewer.party, viewer.token_uid)
        )
        if held is not None and not own:
            raise error(Code.CONFLICT, "this EVSE is booked by someone else")
        if busy is not None:
            raise error(Code.CONFLICT, "this EVSE is in use")
        if token is None or token.get("valid") is False:
            raise error(Code.FORBIDDEN, "your eMSP has not published a valid token for you")
        body: dict[str, Any] = {
            "token": token,
            "location_id": evse.location_id,
            "evse_uid": evse.uid,
        }
        if evse.connector_id:
            body["connector_id"] = evse.connector_id
        if held is not None:
            body["reservation_id"] = held.reservation_id
        sent = await context.command_port().send(
            command=CommandType.START_SESSION, emsp=viewer.party, cpo=ref.cpo, body=body
        )
        problem = _sent_error(sent)
        if problem is not None:
            raise problem
        if held is not None:
            async with context.runtime.db.transaction(write=True) as tx:
                await bookings.used(tx, booking_id=held.id, now=context.now())
        return await _command(context, sent.command_id)

    @strawberry.mutation(
        description="Stops one of the driver's sessions in progress: STOP_SESSION goes to "
        "its CPO; the session's end follows on `chargingUpdates`."
    )
    async def stop_charging(
        self,
        info: Info[GraphContext, None],
        country_code: CountryCode,
        party_id: PartyId,
        id: SessionId,
    ) -> ChargingCommand:
        context = info.context
        viewer = context.driver()
        assert viewer.party is not None
        found = await Session.resolve_reference(
            info, countryCode=country_code, partyId=party_id, id=id
        )
        if found is None:
            raise error(Code.NOT_FOUND, "no such session of yours")
        if found.row.status not in service.ACTIVE_STATES:
            raise error(Code.CONFLICT, f"this session is {found.row.status}")
        sent = await context.command_port().send(
            command=CommandType.STOP_SESSION,
            emsp=viewer.party,
            cpo=(found.row.country_code, found.row.party_id),
            body={"session_id": str(found.row.data.get("id", found.row.object_id))},
        )
        problem = _sent_error(sent)
        if problem is not None:
            raise problem
        return await _command(context, sent.command_id)


@strawberry.type(
    description="A change in the driver's charging: a command's progress or a session."
)
class ChargingUpdate:
    cursor: str = strawberry.field(
        description="This update's place in the event log: give it as `after` to resume."
    )
    command: ChargingCommand | None = strawberry.field(
        description="A command of theirs whose answer or result arrived."
    )
    session: Session | None = strawberry.field(description="A session of theirs that changed.")


@strawberry.type(description=roots.SUBSCRIPTION)
class Subscription:
    @strawberry.subscription(
        description="The logged-in driver's commands and sessions as they change: the "
        "charge point's result, then the CPO's session updates (energy, cost, status)."
    )
    async def charging_updates(
        self,
        info: Info[GraphContext, None],
        after: Annotated[str | None, strawberry.argument(description=event_cursor.AFTER)] = None,
    ) -> AsyncGenerator[ChargingUpdate, None]:
        context = info.context
        viewer = context.driver()
        assert viewer.party is not None
        event_cursor.resume_point(after)  # a bad cursor is refused before anything runs
        mine = (*viewer.party, viewer.token_uid)
        topics = [service.TOPIC_SESSION, service.TOPIC_COMMAND]
        async with event_cursor.events_after(context.runtime.bus, topics, after) as events:
            async for event in events:
                cursor = event_cursor.cursor_of(event)
                payload = event.payload
                if event.topic == service.TOPIC_SESSION:
                    owner = (
                        payload.get("emsp_country_code"),
                        payload.get("emsp_party_id"),
                        payload.get("token_uid"),
                    )
                    if owner != mine:
                        continue
                    async with context.runtime.db.transaction() as tx:
                        rows = await service.sessions_by_key(
                            tx,
                            [(payload["country_code"], payload["party_id"], payload["session_id"])],
                        )
                    for changed in rows.values():
                        yield ChargingUpdate(
                            cursor=cursor, command=None, session=Session.of(changed)
                        )
                    continue
                async with context.runtime.db.transaction() as tx:
                    command = await service.get_command(tx, str(payload.get("command_id")))
                    if command is None or not await _for(tx, command, mine):
                        continue
                yield ChargingUpdate(
                    cursor=cursor,
                    command=ChargingCommand(id=strawberry.ID(command.id), row=command),
                    session=None,
                )


async def _for(tx: Any, row: CommandRow, driver: tuple[Any, ...]) -> bool:
    """Whether a charging command was sent for this driver: START_SESSION carries their
    token; STOP_SESSION names a session, which must be theirs."""
    request = row.request or {}
    if row.command == "START_SESSION":
        token = request.get("token") or {}
        uid = str(token.get("uid", "")).upper()
        return (row.emsp_country_code, row.emsp_party_id, uid) == driver
    if row.command == "STOP_SESSION":
        key = (row.cpo_country_code, row.cpo_party_id, str(request.get("session_id", "")).upper())
        found = (await service.sessions_by_key(tx, [key])).get(key)
        return (
            found is not None
            and (
                found.emsp_country_code,
                found.emsp_party_id,
                found.token_uid,
            )
            == driver
        )
    return False


schema = federation_schema(
    query=Query,
    mutation=Mutation,
    subscription=Subscription,
    types=[Evse, Session, Driver],
)
