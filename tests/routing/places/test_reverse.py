"""Reverse geocoding: a point near a house gives its address, a point on a road away from
houses gives the street, a point off the map is a typed error."""

from __future__ import annotations

import math

import pytest

from subgraphs.routing.places import MatchKind, PlaceError, PlaceErrorCode, PlaceIndex, PlaceKind
from subgraphs.routing.places.geometry import distance_m
from subgraphs.routing.places.reverse import ADDRESS_RADIUS_M, STREET_RADIUS_M
from tests.routing.places.test_geocode import STADTLE_43


def test_a_point_by_a_house_is_its_address(liechtenstein_places: PlaceIndex) -> None:
    osm, lat, lon = STADTLE_43
    place = liechtenstein_places.reverse_now(lat + 0.0001, lon)  # 11 m north of it
    assert place is not None
    assert (place.kind, place.osm, place.label) == (
        PlaceKind.ADDRESS,
        osm,
        "Städtle 43, 9490 Vaduz",
    )
    assert place.match is MatchKind.NEAREST
    assert place.distance_m is not None and 10 < place.distance_m < 12
    # Geocoding the answer lands on the same house: the two directions agree.
    assert liechtenstein_places.geocode_now(place.label)[0].osm == osm


def test_a_helsinki_address_point_is_itself(helsinki_places: PlaceIndex) -> None:
    place = helsinki_places.reverse_now(60.1725449, 24.937381)
    assert place is not None
    assert (place.label, place.distance_m) == ("Töölönlahdenkatu 2, 00100 Helsinki", 0.0)


def test_a_road_away_from_houses_gives_the_street(liechtenstein_places: PlaceIndex) -> None:
    # A cycle path across the fields between Schaan and the Rhine.
    place = liechtenstein_places.reverse_now(47.17, 9.53)
    assert place is not None
    assert (place.kind, place.name, place.city) == (PlaceKind.STREET, "Fürstenweg", "Schaan")
    assert place.distance_m is not None and place.distance_m < STREET_RADIUS_M
    assert f"no address within {ADDRESS_RADIUS_M:.0f} m" in place.explanation
    # Its point is on the street, the asked point's projection.
    assert distance_m((47.17, 9.53), (place.lat, place.lon)) == pytest.approx(
        place.distance_m, abs=0.1
    )


def test_a_point_far_from_any_street_is_none(liechtenstein_places: PlaceIndex) -> None:
    # On the map's box, in the Alps east of Malbun.
    assert liechtenstein_places.reverse_now(47.12, 9.60) is None


@pytest.mark.parametrize(
    ("lat", "lon", "code"),
    [
        (48.8566, 2.3522, PlaceErrorCode.OFF_MAP),  # Paris
        (47.14, 9.40, PlaceErrorCode.OFF_MAP),  # Switzerland, west of the map
        (91.0, 9.52, PlaceErrorCode.INVALID_COORDINATES),
        (47.14, 181.0, PlaceErrorCode.INVALID_COORDINATES),
        (math.nan, 9.52, PlaceErrorCode.INVALID_COORDINATES),
    ],
)
def test_bad_points_are_typed_errors(
    liechtenstein_places: PlaceIndex, lat: float, lon: float, code: PlaceErrorCode
) -> None:
    with pytest.raises(PlaceError) as raised:
        liechtenstein_places.reverse_now(lat, lon)
    assert raised.value.code is code


async def test_the_async_form_answers_the_same(liechtenstein_places: PlaceIndex) -> None:
    _, lat, lon = STADTLE_43
    assert await liechtenstein_places.reverse(lat, lon) == liechtenstein_places.reverse_now(
        lat, lon
    )
