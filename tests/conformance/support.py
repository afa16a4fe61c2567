"""Small helpers for the conformance tests (shared/ocpi/CONFORMANCE.md)."""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z?$")


def token_header(token: str) -> dict[str, str]:
    return {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}


def assert_envelope(response: httpx.Response) -> dict[str, Any]:
    """Check 1: every hub body is ``{status_code:int, timestamp, status_message?, data?}``."""
    body = response.json()
    assert isinstance(body, dict), body
    assert set(body) <= {"status_code", "timestamp", "status_message", "data"}, body
    assert isinstance(body["status_code"], int)
    assert TIMESTAMP.match(body["timestamp"]), body["timestamp"]
    if "status_message" in body:
        assert isinstance(body["status_message"], str)
    return body


def location(cc: str, pid: str, location_id: str, **changes: Any) -> dict[str, Any]:
    """A minimal valid Location of mod_locations."""
    body: dict[str, Any] = {
        "country_code": cc,
        "party_id": pid,
        "id": location_id,
        "publish": True,
        "address": "Mannerheimintie 1",
        "city": "Helsinki",
        "country": "FIN",
        "coordinates": {"latitude": "60.169000", "longitude": "24.938000"},
        "time_zone": "Europe/Helsinki",
        "evses": [
            {
                "uid": f"{location_id}-E1",
                "status": "AVAILABLE",
                "connectors": [
                    {
                        "id": "1",
                        "standard": "IEC_62196_T2",
                        "format": "SOCKET",
                        "power_type": "AC_3_PHASE",
                        "max_voltage": 230,
                        "max_amperage": 32,
                        "last_updated": "2026-01-01T00:00:00Z",
                    }
                ],
                "last_updated": "2026-01-01T00:00:00Z",
            }
        ],
        "last_updated": "2026-01-01T00:00:00Z",
    }
    body.update(changes)
    return body
