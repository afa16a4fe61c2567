"""The sender of owed copies: one per hub process, fed in process after each commit.

Copies of one object to one receiver go out one at a time, in the order they were owed (a
lane per receiver and object); a receiver has at most ``owed_per_receiver`` copies in flight.
Before an attempt a copy is claimed (state ``sending``, committed; a copy owed while its lane
is idle is written claimed already); after it, it is deleted. These writes are batched: one
transaction carries every claim and deletion that is waiting.
A copy found ``sending`` at start was being attempted when the process stopped: whether it
arrived is unknown, so it is not sent again (OCPI: no retries) and its receiver is marked out
of sync instead, as after a failure (resync.py).

Where several hub processes share the database (``membership.shared``), each copy is claimed
by one of them with a conditional UPDATE: only if it is still unclaimed and no earlier copy of
its lane is left in the table, whichever process wrote or holds that one. So every copy goes
once and a lane's order holds across processes; a claim refused for an earlier copy waits and
asks again. A copy is written claimed already only if no earlier copy of its lane is left
(record.py). Copies left ``sending`` by a member that died (its lock gone, see membership.py)
are recovered by the others' poll, as at a start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING

import orjson
from sqlalchemy import and_, delete, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from incar.columns import utcnow
from ocpi_adapter.client import PeerAuth, PeerResponse
from ocpi_adapter.errors import ConnectionProblem, OcpiError
from ocpi_adapter.owed import record, resync
from ocpi_adapter.owed.models import Kind, OwedCopy, State
from ocpi_adapter.owed.record import Owed
from ocpi_adapter.platforms.models import Platform
from ocpi_adapter.routing.forward import mark_unreachable
from ocpi_adapter.types import ConnectionStatus

if TYPE_CHECKING:
    from ocpi_adapter.context import Hub

log = logging.getLogger("incar.hub.owed")

TABLE = OwedCopy.__table__  # type: ignore[attr-defined]
Write = Callable[[AsyncSession], Awaitable[None]]

#: The pause before asking again for a copy behind an earlier one of its lane, doubling.
BLOCKED_PAUSE = (0.01, 1.0)


class Claim(Enum):
    CLAIMED = "claimed"
    BLOCKED = "blocked"  # an earlier copy of its lane is left: ask again later
    TAKEN = "taken"  # another process has it (or it is gone)


@dataclass
class Figures:
    """What an operator sees of one receiver (``incar hub owed``, metrics)."""

    delivered: int = 0
    failed: int = 0
    refused: int = 0
    skipped: int = 0
    cues: int = 0
    last_failure: str = ""


@dataclass
class _Pending:
    """Writes waiting for the next batch: claims (awaited), deletions, mark changes (ordered)."""

    claims: list[tuple[int, asyncio.Future[Claim]]] = field(default_factory=list)
    done: list[int] = field(default_factory=list)
    ordered: list[Write] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.claims or self.done or self.ordered)


def verdict(answer: PeerResponse) -> str | None:
    """None if the receiver took the copy; else why not. "failed" answers cue the receiver,
    "refused" ones (it was reached and said no: 4xx, OCPI 2xxx) are its own decision."""
    if answer.status >= 500:
        return f"failed: HTTP {answer.status}"
    try:
        body = orjson.loads(answer.body)
    except orjson.JSONDecodeError:
        return f"failed: HTTP {answer.status} without a JSON body"
    code = body.get("status_code") if isinstance(body, dict) else None
    if not isinstance(code, int) or isinstance(code, bool):
        return f"failed: HTTP {answer.status}, not an OCPI answer"
    if 3000 <= code < 4000:
        return f"failed: OCPI status {code}"
    if answer.status >= 300 or not 1000 <= code < 2000:
        return f"refused: HTTP {answer.status}, OCPI status {code}"
    return None


def supersedes(later: Owed, earlier: Owed) -> bool:
    """Whether ``later`` carries all that ``earlier`` did: a PUT of the same object, or a PATCH
    at the same place of at least the same fields."""
    if later.url != earlier.url or later.receiver_platform_id != earlier.receiver_platform_id:
        return False
    if later.method == "PUT":
        return True
    if later.method != "PATCH" or earlier.method != "PATCH":
        return False
    try:
        fields_later, fields_earlier = (
            orjson.loads(later.body or b""),
            orjson.loads(earlier.body or b""),
        )
    except orjson.JSONDecodeError:
        return False
    return (
        isinstance(fields_later, dict)
        and isinstance(fields_earlier, dict)
        and set(fields_later) >= set(fields_earlier)
    )


def retry_pause(attempts: int) -> float:
    """2 s after the first attempt, doubling up to a minute."""
    return min(60.0, 2.0 ** max(1, min(attempts, 6)))


class OwedSender:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._lanes: dict[tuple[int, str], deque[Owed]] = {}
        self._known: set[int] = set()
        self._slots: dict[int, asyncio.Semaphore] = {}
        self._pending = _Pending()
        self._writer: asyncio.Task[None] | None = None
        self._poller: asyncio.Task[None] | None = None
        #: Receivers with marks, and those being cued now (with their cue's open copies).
        self.out_of_sync: set[int] = set()
        self._cueing: dict[int, int] = {}
        self._last_cue: dict[int, float] = {}
        self.figures: dict[int, Figures] = {}

    @property
    def member_id(self) -> int:
        return self.hub.membership.member_id

    @property
    def shared(self) -> bool:
        return self.hub.membership.shared

    # --- life cycle ----------------------------------------------------------------------
    async def start(self) -> None:
        await self._recover()
        self._poller = asyncio.create_task(self._poll_loop(), name="owed-poll")

    async def stop(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller

    async def _recover(self) -> None:
        """Copies left ``sending`` by a stopped process mark their receivers; the rest is sent."""
        async with self.hub.db.transaction(write=True) as tx:
            await self._recover_unknown(tx)
            self.out_of_sync = {m.receiver_platform_id for m in await resync.marks(tx)}
        if self.out_of_sync:
            log.info("receivers out of sync at start: %s", sorted(self.out_of_sync))
        await self._poll_once()

    async def _recover_unknown(self, tx: AsyncSession) -> None:
        """Copies ``sending`` whose attempt no living process holds: every one when alone; else
        those of members that died (the living are read after the rows, so a claim seen here
        belongs to a member already listed). Locked, so two recovering processes share them."""
        query = select(OwedCopy).where(col(OwedCopy.state) == State.SENDING)
        membership = self.hub.membership
        if membership.shared:
            query = query.with_for_update(skip_locked=True)
        rows = list((await tx.execute(query)).scalars())
        if membership.shared and rows:
            alive = await membership.alive()
            rows = [row for row in rows if row.claimed_by not in alive]
        now = utcnow()
        for row in rows:
            log.info("owed copy %s: its attempt's outcome is unknown", row.id)
            await self._fail_write(Owed.of(row), now)(tx)

    async def _poll_loop(self) -> None:
        while True:
            await asyncio.sleep(self.hub.settings.owed_poll)
            try:
                await self._poll_once()
            except Exception:
                log.exception("owed-copies poll failed")

    async def _poll_once(self) -> None:
        """The backstop: rows this process was not handed (another process, a crash)."""
        if self.hub.membership.shared:
            async with self.hub.db.transaction(write=True) as tx:
                await self._recover_unknown(tx)
        async with self.hub.db.transaction() as tx:
            rows = (
                await tx.execute(
                    select(OwedCopy)
                    .where(col(OwedCopy.state).in_([State.OWED, State.RETRY]))
                    .order_by(col(OwedCopy.id))
                    .limit(5000)
                )
            ).scalars()
            found = [Owed.of(r) for r in rows if r.id not in self._known]
            # The marks are the truth; the set in memory only saves a query per copy.
            marked = {m.receiver_platform_id for m in await resync.marks(tx)}
        # Only added here: a receiver in the set without marks costs one empty cue at most.
        self.out_of_sync |= marked
        self.hand(found)

    # --- in process --------------------------------------------------------------------------
    def hand(self, copies: list[Owed]) -> None:
        """Takes committed copies (called after the commit; must not block)."""
        for copy in copies:
            if copy.id in self._known:
                continue
            self._known.add(copy.id)
            lane = self._lanes.get(copy.lane)
            if lane is not None:
                lane.append(copy)
                continue
            self._lanes[copy.lane] = deque([copy])
            self.hub.spawn(self._drain(copy.lane), name=f"owed-{copy.receiver_platform_id}")

    def ready(self, copy: Owed) -> bool:
        """Whether a copy owed now would be attempted at once: its lane idle, a slot free."""
        slot = self._slots.get(copy.receiver_platform_id)
        return copy.lane not in self._lanes and (slot is None or not slot.locked())

    async def owe(self, tx: AsyncSession, copies: list[Owed]) -> None:
        await record.owe(tx, copies, self)

    async def _drain(self, key: tuple[int, str]) -> None:
        lane = self._lanes[key]
        slot = self._slots.setdefault(
            key[0], asyncio.Semaphore(self.hub.settings.owed_per_receiver)
        )
        try:
            while lane:
                copy = lane[0]
                while True:
                    async with slot:
                        try:
                            again = await self._attempt(copy)
                        except Exception:
                            # Left as it is (owed or sending): the poll or the next start
                            # takes it.
                            log.exception("owed copy %s could not be handled", copy.id)
                            again = False
                    if not again:
                        break
                    # Retries (an operator's option): the object's later copies wait behind
                    # this one, unless one of them supersedes it.
                    if any(supersedes(later, copy) for later in list(lane)[1:]):
                        self._write(self._delete_write(copy))
                        break
                    await asyncio.sleep(retry_pause(copy.attempts))
                lane.popleft()
                self._known.discard(copy.id)
        finally:
            # Emptied and removed in one step: a copy handed later opens a new lane.
            del self._lanes[key]

    async def _attempt(self, copy: Owed) -> bool:
        """One attempt; True if it failed and is to be retried (INCAR_OWED_RETRY_FOR)."""
        # Not claimed when it was written: claimed now, unless another process attempts it.
        if copy.state is not State.SENDING and not await self._claimed(copy):
            return False
        copy.attempts += 1
        platform = await self._platform(copy.receiver_platform_id)
        figures = self.figures.setdefault(copy.receiver_platform_id, Figures())
        if platform is None or platform.status is not ConnectionStatus.CONNECTED:
            figures.skipped += 1
            return self._failed(copy)
        why = await self._send(copy, platform)
        if why is None:
            figures.delivered += 1
            self._delivered(copy)
        elif why.startswith("refused"):
            figures.refused += 1
            log.info("%s %s refused by %s: %s", copy.method, copy.url, platform.name, why)
            self._done(copy.id)
        else:
            figures.failed += 1
            figures.last_failure = why
            log.info("%s %s to %s %s", copy.method, copy.url, platform.name, why)
            return self._failed(copy)
        return False

    async def _platform(self, platform_id: int) -> Platform | None:
        """From the registry cache; read again if the cache does not have it connected or
        OFFLINE (a registration commits just before the cache is cleared), so copies to an
        OFFLINE receiver cost no query."""
        for platform, _ in await self.hub.callers.registry():
            if platform.id == platform_id and platform.status in (
                ConnectionStatus.CONNECTED,
                ConnectionStatus.OFFLINE,
            ):
                return platform
        async with self.hub.db.transaction() as tx:
            return await tx.get(Platform, platform_id)

    async def _send(self, copy: Owed, platform: Platform) -> str | None:
        if not platform.outgoing_token:
            return "failed: no token for the receiver"
        headers = dict(copy.headers)
        via = headers.pop("Via", None)
        try:
            answer = await self.hub.client.request(
                copy.method,
                copy.url,
                auth=PeerAuth(platform.outgoing_token, platform.legacy_raw_token),
                headers=headers,
                body=copy.body,
                via=via,
            )
        except ConnectionProblem as error:
            if copy.kind is Kind.COPY:
                await mark_unreachable(self.hub, platform)
            return f"failed: {error.message}"
        except OcpiError as error:
            return f"failed: {error.message}"
        return verdict(answer)

    # --- outcomes ------------------------------------------------------------------------------
    def _delivered(self, copy: Owed) -> None:
        receiver = copy.receiver_platform_id
        self._done(copy.id)
        if copy.kind in (Kind.CUE, Kind.CUE_END):
            if copy.kind is Kind.CUE_END:
                owner = (copy.owner_country_code, copy.owner_party_id)

                async def ended(tx: AsyncSession) -> None:
                    if not await resync.cued(tx, receiver_platform_id=receiver, owner=owner):
                        self.out_of_sync.discard(receiver)

                self._write(ended)
            self._cue_copy_done(receiver)
        elif receiver in self.out_of_sync:
            self.recovered(receiver)

    def _failed(self, copy: Owed) -> bool:
        """Marks the receiver, or (retries on, within their time) keeps the copy for another
        attempt; True in that case."""
        retry_for = self.hub.settings.owed_retry_for
        now = utcnow()
        if (
            retry_for > 0
            and copy.kind is Kind.COPY
            and now - copy.created_at < timedelta(seconds=retry_for)
        ):
            self._write(self._retry_write(copy))
            copy.state = State.RETRY
            return True
        self._write(self._fail_write(copy, now))
        return False

    def _fail_write(self, copy: Owed, at: datetime) -> Write:
        """Deletes the copy and marks its receiver (a cue's copy: leaves the mark uncued)."""
        receiver = copy.receiver_platform_id
        owner = (copy.owner_country_code, copy.owner_party_id)
        if copy.kind is Kind.CLIENT_INFO:
            owner = (self.hub.settings.hub_country_code, self.hub.settings.hub_party_id)
        since = min(at, copy.object_last_updated or at)
        self.out_of_sync.add(receiver)
        if copy.kind in (Kind.CUE, Kind.CUE_END):
            self._cue_copy_done(receiver)

        async def write(tx: AsyncSession) -> None:
            await tx.execute(delete(TABLE).where(TABLE.c.id == copy.id))
            if copy.kind in (Kind.CUE, Kind.CUE_END):
                await resync.uncue(tx, receiver_platform_id=receiver, owner=owner)
            else:
                await resync.mark(
                    tx, receiver_platform_id=receiver, owner=owner, since=since, at=at
                )
            # Again in write order: a cue's end, written just before, may have cleared it.
            self.out_of_sync.add(receiver)

        return write

    def _retry_write(self, copy: Owed) -> Write:
        due = utcnow() + timedelta(seconds=retry_pause(copy.attempts))

        async def write(tx: AsyncSession) -> None:
            await tx.execute(
                update(TABLE)
                .where(TABLE.c.id == copy.id)
                .values(state=State.RETRY, next_attempt_at=due)
            )

        return write

    def _delete_write(self, copy: Owed) -> Write:
        async def write(tx: AsyncSession) -> None:
            await tx.execute(delete(TABLE).where(TABLE.c.id == copy.id))

        return write

    # --- resync cues ---------------------------------------------------------------------------
    def recovered(self, receiver: int) -> None:
        """The receiver answered again (a delivered copy, the still-alive check): cue it if
        it missed anything, at most once per ``owed_poll`` seconds."""
        if receiver not in self.out_of_sync or receiver in self._cueing:
            return
        now = time.monotonic()
        if now - self._last_cue.get(receiver, -1e9) < self.hub.settings.owed_poll:
            return
        self._last_cue[receiver] = now
        self._cueing[receiver] = 0
        self.hub.spawn(self._cue(receiver), name=f"owed-cue-{receiver}")

    async def _cue(self, receiver: int) -> None:
        hub_party = (self.hub.settings.hub_country_code, self.hub.settings.hub_party_id)
        copies: list[Owed] | None = None
        try:
            async with self.hub.db.transaction(write=True) as tx:
                platform = await tx.get(Platform, receiver)
                if platform is not None:
                    copies = await resync.cue(tx, receiver=platform, hub_party=hub_party)
                    if copies is not None:
                        self._cueing[receiver] = len(copies)
                        await self.owe(tx, copies)
                if not await resync.marks(tx, receiver_platform_id=receiver):
                    self.out_of_sync.discard(receiver)
        finally:
            if not copies:
                self._cueing.pop(receiver, None)
        if copies:
            self.figures.setdefault(receiver, Figures()).cues += 1
            log.info("receiver %s cued to resynchronise (%s PUTs)", receiver, len(copies))

    def _cue_copy_done(self, receiver: int) -> None:
        left = self._cueing.get(receiver)
        if left is None:
            return
        if left <= 1:
            del self._cueing[receiver]
        else:
            self._cueing[receiver] = left - 1

    # --- batched writes ------------------------------------------------------------------------
    async def _claimed(self, copy: Owed) -> bool:
        """Claims ``copy``, waiting while an earlier copy of its lane is left; False if another
        process has it."""
        pause, longest = BLOCKED_PAUSE
        while True:
            outcome = await self._claim(copy.id)
            if outcome is Claim.CLAIMED:
                copy.state = State.SENDING
                return True
            if outcome is Claim.TAKEN:
                return False
            await asyncio.sleep(pause)
            pause = min(longest, pause * 2)

    async def _claim(self, copy_id: int) -> Claim:
        future: asyncio.Future[Claim] = asyncio.get_running_loop().create_future()
        self._pending.claims.append((copy_id, future))
        self._wake_writer()
        return await future

    async def _write_claims(self, tx: AsyncSession, ids: list[int]) -> dict[int, Claim]:
        if not self.hub.membership.shared:  # alone: every copy handed here is ours
            await tx.execute(
                update(TABLE)
                .where(TABLE.c.id.in_(ids))
                .values(state=State.SENDING, attempts=TABLE.c.attempts + 1)
            )
            return dict.fromkeys(ids, Claim.CLAIMED)
        me = self.hub.membership.member_id
        claimable = or_(
            TABLE.c.state == State.OWED,
            and_(
                TABLE.c.state == State.RETRY,
                or_(TABLE.c.claimed_by == me, TABLE.c.next_attempt_at <= utcnow()),
            ),
        )
        first_of_lane = ~exists().where(record.BEHIND)
        claimed = set(
            (
                await tx.execute(
                    update(TABLE)
                    .where(TABLE.c.id.in_(ids), claimable, first_of_lane)
                    .values(state=State.SENDING, claimed_by=me, attempts=TABLE.c.attempts + 1)
                    .returning(TABLE.c.id)
                )
            ).scalars()
        )
        outcomes = dict.fromkeys(claimed, Claim.CLAIMED)
        rest = [copy_id for copy_id in ids if copy_id not in claimed]
        if rest:
            waiting = set(
                (
                    await tx.execute(select(TABLE.c.id).where(TABLE.c.id.in_(rest), claimable))
                ).scalars()
            )
            for copy_id in rest:
                outcomes[copy_id] = Claim.BLOCKED if copy_id in waiting else Claim.TAKEN
        return outcomes

    def _done(self, copy_id: int) -> None:
        self._pending.done.append(copy_id)
        self._wake_writer()

    def _write(self, write: Write) -> None:
        self._pending.ordered.append(write)
        self._wake_writer()

    def _wake_writer(self) -> None:
        if self._writer is None or self._writer.done():
            self._writer = self.hub.spawn(self._write_batches(), name="owed-writer")

    async def _write_batches(self) -> None:
        while self._pending:
            batch, self._pending = self._pending, _Pending()
            outcomes: dict[int, Claim] = {}
            try:
                async with self.hub.db.transaction(write=True) as tx:
                    if batch.done:
                        await tx.execute(delete(TABLE).where(TABLE.c.id.in_(batch.done)))
                    if batch.claims:
                        outcomes = await self._write_claims(
                            tx, [copy_id for copy_id, _ in batch.claims]
                        )
                    for write in batch.ordered:
                        await write(tx)
            except Exception as error:
                log.exception("owed copies: a batch of %s writes failed", len(batch.ordered))
                for _, future in batch.claims:
                    future.set_exception(error)
                continue
            for copy_id, future in batch.claims:
                future.set_result(outcomes[copy_id])
