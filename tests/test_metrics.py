"""GET /metrics: the owed-copy figures per receiver, in the text format Prometheus parses (read
here with Prometheus's own parser, prometheus_client), to the operator only."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.requests import Request

from incar.settings import Settings, SettingsError
from ocpi_adapter import metrics
from ocpi_adapter.owed import report
from tests.support.hub import running_hub
from tests.support.owed_scene import owed_scene

CPO = ("NL", "CPM")
TOKEN = "scraper-token-0123456789"


def parsed(text: str) -> dict[str, tuple[str, dict[tuple[str, str], float]]]:
    """{metric: (type, {(receiver, platform_id): value})} as Prometheus reads the text."""
    found: dict[str, tuple[str, dict[tuple[str, str], float]]] = {}
    for family in text_string_to_metric_families(text):
        values = {(s.labels["receiver"], s.labels["platform_id"]): s.value for s in family.samples}
        # The parser names a counter family without its _total suffix.
        name = family.name + ("_total" if family.type == "counter" else "")
        found[name] = (family.type, values)
    return found


async def test_metrics_expose_what_is_owed_per_receiver() -> None:
    async with owed_scene(CPO, ("2026-03-01T00:00:01Z", "2026-03-01T00:00:02Z")) as scene:
        hub = scene.hub
        try:
            async with httpx.AsyncClient(trust_env=False, timeout=10) as client:

                async def scrape() -> dict[str, Any] | None:
                    answer = await client.get(f"{hub.url}/metrics")
                    assert answer.status_code == 200, answer.text
                    assert answer.headers["content-type"] == metrics.CONTENT_TYPE
                    found = parsed(answer.text)
                    failures = found["incar_hub_copy_failures_recorded"][1]
                    return found if 2.0 in failures.values() else None

                found = None
                for _ in range(200):  # the failures are written in batches, after the answer
                    if (found := await scrape()) is not None:
                        break
                    await asyncio.sleep(0.05)
                assert found is not None, "the two failures never showed in /metrics"
        finally:
            scene.release.set()
        ids = {r.name: str(r.platform_id) for r in await report.of_hub(hub.hub)}
        stalled = ("EMSP DE*EMW", ids["EMSP DE*EMW"])
        broken = ("EMSP DE*EMF", ids["EMSP DE*EMF"])
        kind, owed = found["incar_hub_owed_copies"]
        assert kind == "gauge"
        # v1 in flight, v2 behind it (copies of one object go one at a time).
        assert owed[stalled] == 2.0
        assert found["incar_hub_owed_oldest_age_seconds"][1][stalled] >= 0
        assert found["incar_hub_out_of_sync_owners"][1][broken] == 1.0
        assert found["incar_hub_copy_failures_recorded"][1][broken] == 2.0
        kind, failed = found["incar_hub_copies_failed_total"]
        assert kind == "counter" and failed[broken] == 2.0
        # Every figure of report.METRICS is exposed, with its help text.
        assert set(found) == {name for name, _, _ in report.METRICS}

        await hub.settle()
        async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
            after = parsed((await client.get(f"{hub.url}/metrics")).text)
        assert after["incar_hub_owed_copies"][1].get(stalled, 0.0) == 0.0
        assert after["incar_hub_copies_delivered_total"][1][stalled] >= 2.0


async def test_with_a_token_only_its_bearer_reads_the_metrics() -> None:
    async with (
        running_hub(metrics_token=TOKEN) as hub,
        httpx.AsyncClient(trust_env=False, timeout=10) as client,
    ):
        url = f"{hub.url}/metrics"
        for headers in (
            {},
            {"Authorization": "Bearer wrong-token-0123456789"},
            {"Authorization": f"Token {TOKEN}"},
        ):
            answer = await client.get(url, headers=headers)
            assert answer.status_code == 401, headers
            assert answer.headers["www-authenticate"].startswith("Bearer")
            assert "INCAR_METRICS_TOKEN" in answer.text
        answer = await client.get(url, headers={"Authorization": f"Bearer {TOKEN}"})
        assert answer.status_code == 200
        # No receiver is owed anything yet: each metric is still declared.
        families = list(text_string_to_metric_families(answer.text))
        assert {f.name for f in families} >= {"incar_hub_owed_copies"}
        assert all(not f.samples for f in families)
        assert (await client.post(url)).status_code == 405


def _request(client: tuple[str, int]) -> Request:
    return Request(
        {"type": "http", "method": "GET", "path": "/metrics", "headers": [], "client": client}
    )


@pytest.mark.parametrize("host", ["192.0.2.7", "2001:db8::1", "testclient", ""])
def test_without_a_token_other_clients_than_loopback_are_refused(host: str) -> None:
    refused = metrics.refusal(_request((host, 40000)), token="")
    assert refused is not None and refused.status_code == 403


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1"])
def test_without_a_token_loopback_clients_may_read(host: str) -> None:
    assert metrics.refusal(_request((host, 40000)), token="") is None


def test_names_that_would_break_the_format_are_escaped() -> None:
    tricky = 'Hub "North"\\\nline two'
    receiver = report.Receiver(
        platform_id=7,
        name=tricky,
        status="CONNECTED",
        owed=3,
        retrying=0,
        oldest_age=1.5,
        out_of_sync=0,
        failures=0,
        since=None,
        cues_queued=0,
    )
    found = parsed(metrics.exposition([receiver]).decode())
    assert found["incar_hub_owed_copies"][1] == {(tricky, "7"): 3.0}
    assert found["incar_hub_owed_oldest_age_seconds"][1] == {(tricky, "7"): 1.5}
    # Figures a process without a sender does not have are left out, not written as 0.
    assert found["incar_hub_copies_delivered_total"][1] == {}


@pytest.mark.parametrize(
    "raw", ["short", "has a space in it, long enough", "tab\tin-the-token-1234"]
)
def test_an_unusable_metrics_token_is_refused_at_start(
    raw: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("INCAR_METRICS_TOKEN", raw)
    with pytest.raises(SettingsError, match="INCAR_METRICS_TOKEN must be at least 16"):
        Settings.from_env()
    monkeypatch.setenv("INCAR_METRICS_TOKEN", TOKEN)
    assert Settings.from_env().metrics_token == TOKEN
