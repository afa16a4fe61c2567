"""Geocoding real addresses and names of the extracts, written as people write them: in any
case, without accents, with a typo or two, number first or city first."""

from __future__ import annotations

import math

import pytest

from subgraphs.routing.places import (
    MatchKind,
    PlaceError,
    PlaceErrorCode,
    PlaceIndex,
    PlaceKind,
)
from subgraphs.routing.places.text import fold

#: Städtle 43, 9490 Vaduz: a node of the Liechtenstein extract (node/315636837).
STADTLE_43 = ("node/315636837", 47.1381654, 9.5227332)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("Städtle 43, 9490 Vaduz", MatchKind.EXACT),
        ("städtle 43 vaduz", MatchKind.EXACT),
        ("STADTLE 43", MatchKind.FOLDED),
        ("43 Stadtle, Vaduz", MatchKind.FOLDED),
        ("Vaduz, Städtle 43", MatchKind.EXACT),
        ("9490 Vaduz Städtle 43", MatchKind.EXACT),
        ("Stadtel 43", MatchKind.FUZZY),  # two letters swapped: one edit
        ("Stätdle 43, Vaduz", MatchKind.FUZZY),
    ],
)
def test_a_liechtenstein_address_in_its_variants(
    liechtenstein_places: PlaceIndex, text: str, match: MatchKind
) -> None:
    best = liechtenstein_places.geocode_now(text)[0]
    assert (best.osm, best.lat, best.lon) == STADTLE_43
    assert best.kind is PlaceKind.ADDRESS
    assert (best.name, best.housenumber, best.postcode, best.city) == (
        "Städtle", "43", "9490", "Vaduz",
    )  # fmt: skip
    assert best.label == "Städtle 43, 9490 Vaduz"
    assert best.match is match
    assert "house number 43" in best.explanation


def test_two_typos_in_a_long_street_name(liechtenstein_places: PlaceIndex) -> None:
    best = liechtenstein_places.geocode_now("Furst-Franz-Josf-Strase 68, Vaduz")[0]
    assert (best.kind, best.name, best.housenumber, best.city) == (
        PlaceKind.ADDRESS, "Fürst-Franz-Josef-Strasse", "68", "Vaduz",
    )  # fmt: skip
    assert best.match is MatchKind.FUZZY
    assert "within 2 edits" in best.explanation
    exact = liechtenstein_places.geocode_now("Fürst-Franz-Josef-Strasse 68, Vaduz")[0]
    assert exact.osm == best.osm and exact.score > best.score


def test_the_city_decides_between_streets_of_one_name(liechtenstein_places: PlaceIndex) -> None:
    # Landstrasse runs through several villages; only Vaduz's has number 120.
    found = liechtenstein_places.geocode_now("Landstrasse 120, Vaduz")
    assert (found[0].kind, found[0].city, found[0].postcode) == (PlaceKind.ADDRESS, "Vaduz", "9490")


def test_a_number_the_street_lacks_gives_the_street_and_says_so(
    liechtenstein_places: PlaceIndex,
) -> None:
    best = liechtenstein_places.geocode_now("Städtle 999")[0]
    assert (best.kind, best.name) == (PlaceKind.STREET, "Städtle")
    assert "no house number 999" in best.explanation
    assert best.score < liechtenstein_places.geocode_now("Städtle 43")[0].score


def test_towns_and_named_places(liechtenstein_places: PlaceIndex) -> None:
    town = liechtenstein_places.geocode_now("schaan")[0]
    assert (town.kind, town.name, town.category) == (PlaceKind.LOCALITY, "Schaan", "place=village")
    stadium = liechtenstein_places.geocode_now("Rheinpark Stadion")[0]
    assert (stadium.kind, stadium.name) == (PlaceKind.POI, "Rheinparkstadion")
    assert stadium.match is MatchKind.FOLDED  # the space aside


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("Töölönlahdenkatu 2", MatchKind.EXACT),
        ("toolonlahdenkatu 2", MatchKind.FOLDED),
        ("TOOLONLAHDENKATU 2, 00100 HELSINKI", MatchKind.FOLDED),
        ("Toolonlahdenkatus 2", MatchKind.FUZZY),
        ("Tolonlahdenkato 2", MatchKind.FUZZY),
    ],
)
def test_a_helsinki_address_with_accents(
    helsinki_places: PlaceIndex, text: str, match: MatchKind
) -> None:
    best = helsinki_places.geocode_now(text)[0]
    assert (best.kind, best.name, best.housenumber, best.postcode, best.city) == (
        PlaceKind.ADDRESS, "Töölönlahdenkatu", "2", "00100", "Helsinki",
    )  # fmt: skip
    assert best.osm == "node/150541320"
    assert best.match is match


def test_helsinki_streets_folded_and_misspelt(helsinki_places: PlaceIndex) -> None:
    for text in ("Mannerheimintie", "mannerheimintie", "Manerheimintie", "mannerhiemintie"):
        best = helsinki_places.geocode_now(text)[0]
        assert (best.kind, best.name) == (PlaceKind.STREET, "Mannerheimintie"), text
    assert helsinki_places.geocode_now("Yrjönkatu 30")[0].osm == "node/247156552"
    assert helsinki_places.geocode_now("yrjonkatu 30")[0].osm == "node/247156552"


def test_results_are_ranked_and_scored(liechtenstein_places: PlaceIndex) -> None:
    found = liechtenstein_places.geocode_now("Vaduz", limit=5)
    assert found[0].kind is PlaceKind.LOCALITY and found[0].name == "Vaduz"
    scores = [place.score for place in found]
    assert scores == sorted(scores, reverse=True)
    assert all(0 < score <= 1 for score in scores)
    assert len(liechtenstein_places.geocode_now("Vaduz", limit=1)) == 1


def test_near_prefers_the_nearer_of_two_equal_names(liechtenstein_places: PlaceIndex) -> None:
    # Fürst-Franz-Josef-Strasse is a street in Vaduz and another in Mauren, 9 km apart.
    streets = [
        p for p in liechtenstein_places.geocode_now("Fürst-Franz-Josef-Strasse", limit=5)
        if p.kind is PlaceKind.STREET and p.name == "Fürst-Franz-Josef-Strasse"
    ]  # fmt: skip
    assert sorted(p.city or "" for p in streets) == ["Mauren", "Vaduz"]
    for town in streets:
        near = liechtenstein_places.geocode_now(
            "Fürst-Franz-Josef-Strasse", near=(town.lat, town.lon)
        )[0]
        assert near.city == town.city and near.distance_m is not None and near.distance_m < 50


def test_nothing_found_is_an_empty_list(liechtenstein_places: PlaceIndex) -> None:
    assert liechtenstein_places.geocode_now("Xylophonweg 7") == []
    assert liechtenstein_places.geocode_now("12345") == []


@pytest.mark.parametrize(
    ("text", "code"),
    [("", PlaceErrorCode.EMPTY_QUERY), ("  \t ", PlaceErrorCode.EMPTY_QUERY),
     ("Städtle " * 40, PlaceErrorCode.QUERY_TOO_LONG),
     ("katu " * 17, PlaceErrorCode.QUERY_TOO_LONG)],
)  # fmt: skip
def test_bad_queries_are_typed_errors(
    liechtenstein_places: PlaceIndex, text: str, code: PlaceErrorCode
) -> None:
    with pytest.raises(PlaceError) as raised:
        liechtenstein_places.geocode_now(text)
    assert raised.value.code is code


def test_bad_limits_and_near_points_are_typed_errors(liechtenstein_places: PlaceIndex) -> None:
    for limit in (0, -1, 51):
        with pytest.raises(PlaceError) as raised:
            liechtenstein_places.geocode_now("Vaduz", limit=limit)
        assert raised.value.code is PlaceErrorCode.INVALID_LIMIT
    for near in ((91.0, 9.5), (47.1, math.nan), (47.1, math.inf)):
        with pytest.raises(PlaceError) as raised:
            liechtenstein_places.geocode_now("Vaduz", near=near)
        assert raised.value.code is PlaceErrorCode.INVALID_COORDINATES


async def test_the_async_form_answers_the_same(liechtenstein_places: PlaceIndex) -> None:
    found = await liechtenstein_places.geocode("Städtle 43, Vaduz")
    assert found == liechtenstein_places.geocode_now("Städtle 43, Vaduz")


@pytest.mark.parametrize(
    ("text", "label", "exact"),
    [
        ("Yrjönkatu 12-14", "Yrjönkatu 12-14, Helsinki", True),  # a range, as mapped
        ("Yrjönkatu 12 \u2013 14", "Yrjönkatu 12-14, Helsinki", True),  # en dash, spaces
        ("Yrjönkatu 12", "Yrjönkatu 12, 00120 Helsinki", True),  # the range's first is mapped too
        ("Yrjönkatu 12 B", "Yrjönkatu 12, 00120 Helsinki", False),  # a stair letter not mapped
        ("Pieni Roobertinkatu 1-3", "Pieni Roobertinkatu 1-3, Helsinki", True),
        ("Pieni Roobertinkatu 13", "Pieni Roobertinkatu 13, 00120 Helsinki", True),  # not 1-3
        ("Pieni Roobertinkatu 2", "Pieni Roobertinkatu 1-3, Helsinki", False),  # within 1-3
    ],
)
def test_house_number_ranges_and_letters(
    helsinki_places: PlaceIndex, text: str, label: str, exact: bool
) -> None:
    best = helsinki_places.geocode_now(text)[0]
    assert (best.kind, best.label) == (PlaceKind.ADDRESS, label)
    assert ("asked" not in best.explanation) is exact, best.explanation
    assert best.score == (1.0 if exact else 0.95)


def test_a_multipolygon_building_has_its_address(helsinki_places: PlaceIndex) -> None:
    best = helsinki_places.geocode_now("Unioninkatu 33 b")[0]
    assert (best.kind, best.osm, best.housenumber) == (PlaceKind.ADDRESS, "relation/6065", "33b")
    assert 60.1715 < best.lat < 60.1730 and 24.950 < best.lon < 24.952  # its courtyard block


def test_a_number_in_a_street_name_is_part_of_the_name(porto_places: PlaceIndex) -> None:
    # Porto has a Rua 9, a Rua 19 and a Rua 25 de Abril: "25" is no house number here.
    for text in ("Rua 25 de Abril", "rua 25 de abril", "Rua 25 de Abirl"):
        assert porto_places.geocode_now(text)[0].name == "Rua 25 de Abril", text
    assert porto_places.geocode_now("rua 1o de maio")[0].name == "Rua 1º de Maio"  # º folds to o


def test_the_spelling_asked_comes_before_its_folded_twin(porto_places: PlaceIndex) -> None:
    # Two streets of Porto's extract fold alike: Rua do Cálvario and Rua do Calvário.
    for text in ("Rua do Cálvario", "Rua do Calvário"):
        found = porto_places.geocode_now(text, limit=50)  # 10 streets are "Rua do Calvário"
        assert (found[0].name, found[0].match) == (text, MatchKind.EXACT)
        twins = [p for p in found if p.name != text and fold(p.name) == fold(text)]
        assert twins and all(place.match is MatchKind.FOLDED for place in twins)
        assert max(place.score for place in twins) < found[0].score
    # With a typo too, the accent as asked decides.
    typo = porto_places.geocode_now("Rua da Miseicórdia", limit=10)
    asked = [p.score for p in typo if p.name == "Rua da Misericórdia"]
    other = [p.score for p in typo if p.name == "Rua da Misericordia"]
    assert asked and other and min(asked) > max(other)
    assert all(p.match is MatchKind.FUZZY for p in typo if p.name.startswith("Rua da Miseric"))
