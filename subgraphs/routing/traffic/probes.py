"""Probe traces as vehicles send them (GPX or JSON), checked strictly before anything is done
with them: a trace that is too big, too long, out of time order, impossibly fast or off the
map is refused whole with a ``ProbeRefused`` naming why, and nothing of it is kept."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

#: A probe batch is a few minutes of one vehicle: 1 Hz for an hour is 3600 points, well
#: under these; anything bigger is not a probe trace.
MAX_BYTES = 512 * 1024
MAX_POINTS = 4000
#: Fewer points cannot be matched to a way with a direction (Valhalla needs two; a speed
#: needs two moments).
MIN_POINTS = 2
#: Faster than this between two fixes is a GPS jump or a forged trace, not a car (km/h).
MAX_SPEED_KMH = 250.0
#: A trace longer than this in time is several trips; the live store wants recent speeds.
MAX_SPAN_S = 3 * 3600
_GPX = "{http://www.topografix.com/GPX/1/1}"


class ProbeRefused(Exception):
    """A trace the endpoint refuses; ``code`` is the JSON error code, ``status`` the HTTP one."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


@dataclass(frozen=True, slots=True)
class ProbePoint:
    lat: float
    lon: float
    time: float  # Unix seconds


@dataclass(frozen=True, slots=True)
class ProbeTrace:
    vehicle: str
    points: tuple[ProbePoint, ...]


def parse(body: bytes, content_type: str) -> ProbeTrace:
    """The trace of a request body: GPX (``application/gpx+xml`` or XML) or JSON."""
    if len(body) > MAX_BYTES:
        raise ProbeRefused("TOO_LARGE", f"a probe trace is at most {MAX_BYTES} bytes", status=413)
    kind = content_type.split(";", maxsplit=1)[0].strip().lower()
    if kind in ("application/gpx+xml", "application/xml", "text/xml"):
        return _gpx(body)
    if kind == "application/json":
        return _json(body)
    raise ProbeRefused(
        "UNSUPPORTED_MEDIA_TYPE",
        "send application/json or application/gpx+xml",
        status=415,
    )


def _moment(text: Any, where: str) -> float:
    if not isinstance(text, str):
        raise ProbeRefused("BAD_TRACE", f"{where}: time is an ISO 8601 string")
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ProbeRefused("BAD_TRACE", f"{where}: time {text!r} is not ISO 8601") from None
    if moment.tzinfo is None:
        raise ProbeRefused("BAD_TRACE", f"{where}: time {text!r} needs an offset (Z or +01:00)")
    return moment.timestamp()


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ProbeRefused("BAD_TRACE", f"{where}: a number")
    try:
        number = float(value)
    except ValueError:
        raise ProbeRefused("BAD_TRACE", f"{where}: {value!r} is not a number") from None
    if not math.isfinite(number):
        raise ProbeRefused("BAD_TRACE", f"{where}: a finite number")
    return number


def _json(body: bytes) -> ProbeTrace:
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise ProbeRefused("BAD_TRACE", "the body is not JSON") from None
    if not isinstance(data, dict) or not isinstance(data.get("points"), list):
        raise ProbeRefused("BAD_TRACE", 'expected {"vehicle": id, "points": [{lat, lon, time}]}')
    vehicle = data.get("vehicle")
    if not isinstance(vehicle, str | int) or isinstance(vehicle, bool):
        raise ProbeRefused("BAD_TRACE", "vehicle: a string or a number")
    raw: list[Any] = data["points"]
    _count(len(raw))
    points = []
    for index, point in enumerate(raw):
        where = f"points[{index}]"
        if not isinstance(point, dict):
            raise ProbeRefused("BAD_TRACE", f"{where}: an object with lat, lon and time")
        points.append(
            ProbePoint(
                _number(point.get("lat"), f"{where}.lat"),
                _number(point.get("lon"), f"{where}.lon"),
                _moment(point.get("time"), where),
            )
        )
    return ProbeTrace(str(vehicle), tuple(points))


def _gpx(body: bytes) -> ProbeTrace:
    try:
        # defusedxml refuses DTDs' entity declarations and external references: no billion
        # laughs, no file or network read.
        root = fromstring(body, forbid_dtd=True)
    except DefusedXmlException as hostile:
        raise ProbeRefused("HOSTILE_XML", f"refused XML: {type(hostile).__name__}") from None
    except Exception:  # ElementTree's ParseError and encoding errors
        raise ProbeRefused("BAD_TRACE", "the body is not well-formed GPX") from None
    if root.tag not in (f"{_GPX}gpx", "gpx"):
        raise ProbeRefused("BAD_TRACE", "not a GPX document (its root is not <gpx>)")
    ns = _GPX if root.tag.startswith("{") else ""
    found = root.findall(f".//{ns}trkpt")
    _count(len(found))
    vehicle = ""
    name = root.find(f".//{ns}trk/{ns}name")
    if name is not None and name.text:
        vehicle = name.text.strip()
    points = []
    for index, point in enumerate(found):
        where = f"trkpt {index}"
        time = point.find(f"{ns}time")
        points.append(
            ProbePoint(
                _number(point.get("lat"), f"{where} lat"),
                _number(point.get("lon"), f"{where} lon"),
                _moment(time.text if time is not None else None, where),
            )
        )
    if not vehicle:
        raise ProbeRefused("BAD_TRACE", "name the vehicle in <trk><name>")
    return ProbeTrace(vehicle, tuple(points))


def _count(count: int) -> None:
    if count > MAX_POINTS:
        raise ProbeRefused("TOO_MANY_POINTS", f"at most {MAX_POINTS} points a trace", status=413)
    if count < MIN_POINTS:
        raise ProbeRefused("TOO_FEW_POINTS", f"at least {MIN_POINTS} points a trace")


def metres(a: ProbePoint, b: ProbePoint) -> float:
    """Great-circle distance (haversine, on a 6371 km sphere)."""
    phi1, phi2 = math.radians(a.lat), math.radians(b.lat)
    dphi, dlambda = phi2 - phi1, math.radians(b.lon - a.lon)
    h = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * 6_371_000 * math.asin(math.sqrt(min(1.0, h)))


def check(trace: ProbeTrace, *, contains: Callable[[float, float], bool], now: float) -> ProbeTrace:
    """The trace if it is plausible: on the map, in time order, recent, no jumps."""
    if not trace.vehicle or len(trace.vehicle) > 100:
        raise ProbeRefused("BAD_TRACE", "vehicle: 1 to 100 characters")
    points: Sequence[ProbePoint] = trace.points
    for index, point in enumerate(points):
        if not (-90 <= point.lat <= 90 and -180 <= point.lon <= 180):
            raise ProbeRefused("BAD_TRACE", f"point {index}: latitude -90..90, longitude -180..180")
        if not contains(point.lat, point.lon):
            raise ProbeRefused(
                "OFF_MAP", f"point {index}: ({point.lat}, {point.lon}) is off the map"
            )
    for index, (before, after) in enumerate(itertools.pairwise(points), start=1):
        elapsed = after.time - before.time
        if elapsed <= 0:
            raise ProbeRefused("BAD_TRACE", f"point {index}: times must increase")
        speed = metres(before, after) / elapsed * 3.6
        if speed > MAX_SPEED_KMH:
            raise ProbeRefused(
                "IMPLAUSIBLE_SPEED",
                f"point {index}: {speed:.0f} km/h from the point before (at most "
                f"{MAX_SPEED_KMH:.0f})",
            )
    if points[-1].time - points[0].time > MAX_SPAN_S:
        raise ProbeRefused("BAD_TRACE", f"a trace spans at most {MAX_SPAN_S // 3600} hours")
    if points[-1].time > now + 60:
        raise ProbeRefused("BAD_TRACE", "the trace ends in the future")
    return trace
