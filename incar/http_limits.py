"""The HTTP server's own limits: how large a request head may be and how slow a client.

uvicorn's httptools protocol has no limit on the request head (httptools joins the pieces of a
header by copying them, so a 60 MB header costs the event loop seconds) and no timeout but
keep-alive. ``LimitedHttpToolsProtocol`` keeps httptools' parser and adds, per connection:

- a maximum size of the request head (request line and headers): over it, 431 and close;
- a deadline for the head, from its first byte (slowloris): 408 and close;
- a deadline for the whole body, from the end of the head: 408 (unless the hub has started its
  answer) and close;
- an idle timeout while no request is arriving and no answer is due, a fresh connection's
  included: close. Only the first byte of a request stops it (uvicorn's keep-alive timer stops
  on any byte, so blank lines would keep a connection open for ever).

A deadline that falls while the hub itself has stopped reading (a pipelined request waiting
its turn, a body its handler has not taken yet) is pushed back by its full length: only the
client's slowness counts against it.

One protocol object serves all the requests of a keep-alive connection, pipelined ones
included; the parser's callbacks say where the connection is (``_BETWEEN``, ``_HEAD``,
``_BODY``). Timers are armed after each piece of input is parsed, for the phase it ended in,
so a request that arrives in one piece (the usual case) arms none of its own, and the idle
deadline is uvicorn's keep-alive timer, taken over: the timer work per request stays uvicorn's.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

log = logging.getLogger("incar.server")

# Set in a request's ``scope["state"]`` when the server closed the connection under the request
# (its body was late): the server has logged why, so the application's handler of the
# disconnect it then sees stays silent. The value says why.
CLOSED_BY_SERVER = "incar.closed_by_server"

# Seconds a refused connection is still read (and the input dropped) after the answer.
LINGER = 2.0

# Where the incoming side of a connection is.
_BETWEEN = 0  # between requests: the next byte may start one
_HEAD = 1  # a request head is arriving
_BODY = 2  # the head is complete, its body is arriving
_CLOSED = 3  # refused or closed: input is ignored


@dataclass(frozen=True)
class HttpLimits:
    max_head_bytes: int  # request line and headers, CRLFs included
    head_timeout: float  # seconds from the head's first byte to its end
    body_timeout: float  # seconds from the end of the head to the end of the body
    idle_timeout: float  # seconds without a request arriving or an answer due


class LimitedConfig(uvicorn.Config):
    """A uvicorn configuration whose connections run under ``limits``."""

    def __init__(self, app: Any, *, limits: HttpLimits, **options: Any) -> None:
        # No WebSocket protocol: an Upgrade would hand the connection over to a protocol
        # without these limits, and the hub serves no WebSockets. uvicorn's keep-alive timer
        # runs for the idle timeout: the protocol takes it over as its idle deadline.
        options |= dict(
            http=LimitedHttpToolsProtocol, ws="none", timeout_keep_alive=limits.idle_timeout
        )
        super().__init__(app, **options)
        self.limits = limits


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        if not isinstance(config, LimitedConfig):
            raise TypeError("LimitedHttpToolsProtocol takes its limits from a LimitedConfig")
        self.limits = config.limits
        self._phase = _BETWEEN
        self._phases_entered = 0  # tells whether the phase changed while input was parsed
        self._timer: asyncio.TimerHandle | None = None
        self._timer_phase = -1  # _phases_entered when the timer was armed
        self._head_bytes = 0  # of the head arriving (or about to), counted before parsing

    # --- asyncio.Protocol -----------------------------------------------------------------
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._phase = _CLOSED
        self._disarm()
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        # Head bytes are counted before the parser sees them; a complete message resets the
        # count (on_message_complete). A piece that fits in what is left of the limit (the
        # usual request, whole in one piece) is parsed at once: even unfinished, its head is
        # under the limit.
        if self._phase == _BODY:
            super().data_received(data)
        elif self._phase == _CLOSED:
            return
        elif self._head_bytes + len(data) < self.limits.max_head_bytes:
            self._head_bytes += len(data)
            super().data_received(data)
        else:
            self._feed_up_to_limit(data)
        if self._phases_entered != self._timer_phase and self._phase != _CLOSED:
            self._arm()

    def _feed_up_to_limit(self, data: bytes) -> None:
        """Parses ``data`` in parts no longer than what is left of the head limit.

        A head over the limit is refused once the parser has seen ``max_head_bytes`` of it,
        however much more the client sends. Bytes that follow the end of a body in the same
        piece of input start the next head uncounted: at most one read (256 KiB), parsed in
        one pass.
        """
        limit = self.limits.max_head_bytes
        while self._phase <= _HEAD:
            room = limit - self._head_bytes
            part = data[:room]
            self._head_bytes += len(part)
            super().data_received(part)
            if self.transport.is_closing():  # the parser refused the input (400)
                return
            # The count is full only if no message completed: the head is not finished.
            if self._phase <= _HEAD and self._head_bytes >= limit:
                self._refuse_head()
                return
            data = data[len(part) :]
            if not data:
                return
        if self._phase == _BODY:
            super().data_received(data)

    # --- httptools parser callbacks -------------------------------------------------------
    # (The phase changes are written out in each: these run for every request.)
    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = _HEAD
        self._phases_entered += 1

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        self._phase = _BODY
        self._phases_entered += 1

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._head_bytes = 0
        self._phase = _BETWEEN
        self._phases_entered += 1

    # --- answers --------------------------------------------------------------------------
    def on_response_complete(self) -> None:
        super().on_response_complete()
        # With nothing pipelined, uvicorn has just armed its keep-alive timer (for the idle
        # timeout). uvicorn stops it on any byte, so blank lines would hold the connection
        # for ever; taken over, it is the idle deadline, which only a request's first byte
        # stops. Taking it over rather than arming another keeps a request's timer work what
        # uvicorn's is: one timer armed per answer, one cancelled per next request.
        timer, self.timeout_keep_alive_task = self.timeout_keep_alive_task, None
        if timer is None:
            return
        if self._phase == _BETWEEN:
            self._disarm()  # (none is armed while an answer is due)
            self._timer, self._timer_phase = timer, self._phases_entered
        else:  # the next request is arriving, under its own deadline
            timer.cancel()

    def _unsupported_upgrade_warning(self) -> None:
        # uvicorn warns twice and advises installing a WebSocket library; the hub has none on
        # purpose (see LimitedConfig) and answers the request as plain HTTP.
        log.info("%s: Upgrade not supported; answered as plain HTTP", self._peer())

    def timeout_keep_alive_handler(self) -> None:
        self._expire()  # the taken-over keep-alive timer: the idle deadline

    def _answer_due(self) -> bool:
        """Whether the hub still owes this connection an answer (the latest request's is last)."""
        return self.cycle is not None and not self.cycle.response_complete

    # --- deadlines ------------------------------------------------------------------------
    def _arm(self) -> None:
        """Arms the deadline of the current phase in place of any other; none while the hub
        owes the client an answer (the client is waiting, not late)."""
        self._disarm()
        self._timer_phase = self._phases_entered
        if self._phase == _HEAD:
            timeout = self.limits.head_timeout
        elif self._phase == _BODY:
            timeout = self.limits.body_timeout
        elif self._phase == _BETWEEN and not self._answer_due():
            timeout = self.limits.idle_timeout
        else:
            return
        self._timer = self.loop.call_later(timeout, self._expire)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _expire(self) -> None:
        self._timer = None
        if self._phase == _CLOSED or self.transport.is_closing():
            return
        if self.flow.read_paused:  # the hub is not reading: the client is not late
            self._arm()
            return
        if self._phase == _HEAD:
            log.info(
                "%s: request head not complete within %g s; connection closed",
                self._peer(),
                self.limits.head_timeout,
            )
            self._close(None if self._answer_due() else 408, "request head not received in time")
        elif self._phase == _BODY:
            self._time_out_body()
        else:
            self._close()  # idle: an ordinary end of a keep-alive connection, not logged

    def _time_out_body(self) -> None:
        cycle = self.cycle
        scope = cycle.scope
        log.info(
            "%s: body of %s %s not complete within %g s; connection closed",
            self._peer(),
            scope["method"],
            scope["path"],
            self.limits.body_timeout,
        )
        scope.setdefault("state", {})[CLOSED_BY_SERVER] = "request body not received in time"
        # A 408 only where it cannot cut into an answer: the request's own answer has not
        # started and no earlier answer is due (its cycle is not queued behind another).
        answer = not cycle.response_started and not self.pipeline
        self._close(408 if answer else None, "request body not received in time")
        # As connection_lost will: the handler waiting for the body gets http.disconnect now,
        # and whatever it answers is not written after the 408.
        cycle.disconnected = True
        cycle.message_event.set()

    def _refuse_head(self) -> None:
        limit = self.limits.max_head_bytes
        log.info("%s: request head over %d bytes refused; connection closed", self._peer(), limit)
        # Nothing of the head is echoed: the answer is the status and this fixed text.
        self._close(None if self._answer_due() else 431, f"request head exceeds {limit} bytes")

    # --- closing --------------------------------------------------------------------------
    def _close(self, status: int | None = None, message: str = "") -> None:
        """Closes the connection, after an answer with ``status`` if there is one."""
        self._phase = _CLOSED
        self._disarm()
        if status is None or not self.transport.can_write_eof():
            if status is not None:
                self.transport.write(self._plain_answer(status, message))
            self.transport.close()
            return
        # The client may still be sending (the rest of a huge head). Closing with its bytes
        # unread would reset the connection, and a client still writing would lose the
        # answer; so the answer ends the stream and what still comes is read and dropped
        # (data_received ignores it) until the client closes, for a moment at most.
        self.transport.write(self._plain_answer(status, message))
        self.transport.write_eof()
        self.flow.resume_reading()
        self._timer = self.loop.call_later(LINGER, self.transport.close)

    def _plain_answer(self, status: int, message: str) -> bytes:
        body = message.encode("ascii") + b"\n"
        head = [STATUS_LINE[status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head.append(
            b"content-type: text/plain; charset=utf-8\r\n"
            b"content-length: %d\r\nconnection: close\r\n\r\n" % len(body)
        )
        return b"".join(head) + body

    def _peer(self) -> str:
        return f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
