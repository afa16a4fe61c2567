"""Pricing a CDR's ChargingPeriods with the tariff calculator (``price_cdr``): the spec's CDR
example, the spec's worked tariff examples written as the CDRs they describe, and CDRs of our
own. Every expected number is worked out by hand in the comment beside it.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from subgraphs.locations.pricing import CdrPrice, Dimension, PricingError, price_cdr
from tests.support.priced_cdrs import (
    BERLIN,
    HELSINKI,
    STEPS,
    component,
    element,
    priced_cdr,
    spec_example,
    steps_cdr,
    tariff,
)

D = Decimal
NO_COST = {"excl_vat": 0.0}


def price(cdr: dict[str, Any], *tariffs: dict[str, Any], zone: ZoneInfo | None = BERLIN) -> Any:
    given = tariffs or tuple(cdr.get("tariffs") or ())
    return price_cdr(cdr, {t["id"].upper(): t for t in given}, zone=zone)


def totals(result: CdrPrice) -> tuple[Decimal, Decimal | None]:
    return result.total_excl_vat, result.total_incl_vat


def amounts(result: CdrPrice, dimension: Dimension) -> list[Decimal]:
    return [line.excl_vat for line in result.lines if line.dimension is dimension]


# --- the spec's CDR example ------------------------------------------------------------------


def test_the_spec_cdr_example_prices_to_its_own_total() -> None:
    cdr = spec_example("cdr_example.json")
    # One period from 21:39:09 of TIME 1.973 h under tariff 12 (TIME EUR 2.00/h, VAT 10 %,
    # step 300 s). 1.973 h = 7102.8 s, billed in 300 s steps: 24 steps = 7200 s = 2 h.
    # 2 h x 2.00 = 4.00 excl. VAT; x 1.10 = 4.40 incl.: the CDR's total_cost and its
    # total_time_cost, so the example is self-consistent in its prices. (It is not in all
    # else: last_updated 22:01:13 is before end_date_time 23:37:32, its coordinates have
    # latitude and longitude swapped for Gent, and total_energy 15.342 kWh appears in no
    # period; none of that changes the price.)
    result = price(cdr, zone=ZoneInfo("Europe/Brussels"))
    assert totals(result) == (D("4.00"), D("4.40"))
    assert result.time.quantity == 2
    assert (result.time.excl_vat, result.time.incl_vat) == (4, D("4.4"))
    # The session lasted 1:58:23 = 1.97306 h, which the period's 1.973 h rounds.
    assert result.tariff_ids == ("12",)


def test_the_spec_cdr_example_as_a_credit_cdr_is_negative() -> None:
    cdr = {**spec_example("cdr_example.json"), "id": "12345-C", "credit": True}
    cdr["credit_reference_id"] = "12345"
    # The same periods; only total_cost is negative (mod_cdrs, Credit CDRs): -4.00 / -4.40.
    # The breakdown stays the original's, as the credit CDR's total_time_cost does.
    result = price(cdr, zone=None)  # tariff 12 has no local-time restriction: no zone needed
    assert totals(result) == (D("-4.00"), D("-4.40"))
    assert result.credit
    assert amounts(result, Dimension.TIME) == [4]


# --- the spec's tariff examples as the CDRs they describe ------------------------------------


def test_tariff_4_monday_breakdown_with_a_vat_per_component() -> None:
    t = spec_example("tariff_4_complex.json")
    # Monday 2026-12-07 09:30, 165 min charging at 16 A, then 42 min parking.
    cdr = priced_cdr(
        "T4-MON",
        [
            ("2026-12-07T09:30", {"TIME": 2.75, "ENERGY": 10.0, "MAX_CURRENT": 16.0}, "14"),
            ("2026-12-07T12:15", {"PARKING_TIME": 0.7}, "14"),
        ],
        end="2026-12-07T12:57",
        total_cost={"excl_vat": 9.0, "incl_vat": 10.3},
    )
    result = price(cdr, t)
    # FLAT 2.50 at 15 % = 2.875; TIME 165 min < 32 A at 1.00/h = 2.75 at 20 % = 3.30 (not
    # rounded: parking follows); PARKING weekday 09-18: 42 min -> 45 min (300 s steps) at
    # 5.00/h = 3.75 at 10 % = 4.125. Totals 9.00 and 10.30, as the spec's table.
    assert amounts(result, Dimension.FLAT) == [D("2.5")]
    assert (result.time.excl_vat, result.time.incl_vat) == (D("2.75"), D("3.3"))
    assert (result.parking.quantity, result.parking.excl_vat) == (D("0.75"), D("3.75"))
    assert result.parking.incl_vat == D("4.125")
    assert totals(result) == (D("9.00"), D("10.30"))


def test_tariff_4_saturday_gives_what_its_rules_give_not_the_spec_table() -> None:
    t = spec_example("tariff_4_complex.json")
    # Saturday 2026-12-05 13:30, 114 min charging at 43 A, then 71 min parking.
    cdr = priced_cdr(
        "T4-SAT",
        [
            (
                "2026-12-05T13:30",
                {"TIME": 1.9, "ENERGY": 50.0, "MIN_CURRENT": 43.0, "MAX_CURRENT": 43.0},
                "14",
            ),
            ("2026-12-05T15:24", {"PARKING_TIME": 71 / 60}, "14"),
        ],
        end="2026-12-05T16:35",
        total_cost={"excl_vat": 12.28, "incl_vat": 13.861},
    )
    result = price(cdr, t)
    # FLAT 2.50 (2.875 at 15 %); TIME at >= 32 A on a weekend, 1.25/h x 1.9 h = 2.375 (2.85 at
    # 20 %), not rounded as parking follows; PARKING Saturday 10-17: 71 min -> 75 min x 6.00/h
    # = 7.50 (8.25 at 10 %). 12.375 -> 12.38 excl., 13.975 -> 13.98 incl. The spec's table
    # says 2.28 for the charging time (114 min at 1.25/h is 2.375) and so 12.28 / 13.861.
    assert result.time.excl_vat == D("2.375")
    assert result.parking.excl_vat == D("7.5")
    assert totals(result) == (D("12.38"), D("13.98"))


def test_tariff_4_needs_the_current_its_restrictions_name() -> None:
    t = spec_example("tariff_4_complex.json")
    cdr = priced_cdr(
        "T4-NOA",
        [("2026-12-07T09:30", {"TIME": 2.75, "ENERGY": 10.0}, "14")],
        end="2026-12-07T12:15",
        total_cost={"excl_vat": 5.25},
    )
    with pytest.raises(PricingError, match=r"charging_periods\[0\].*current is not known"):
        price(cdr, t)


@pytest.mark.parametrize(
    ("periods", "end", "expected"),
    [
        # Example #1: 16:55 charge 5 min at 1.20/h = 0.10, 17:00 charge 5 min at 2.40/h =
        # 0.20, 17:05 park 2 min -> 15 min (the last time period's step, 900 s) at 1.00/h =
        # 0.25: 0.55, as the spec says.
        (
            [
                ("2026-12-07T16:55", {"TIME": 5 / 60}, "22"),
                ("2026-12-07T17:00", {"TIME": 5 / 60}, "22"),
                ("2026-12-07T17:05", {"PARKING_TIME": 2 / 60}, "22"),
            ],
            "2026-12-07T17:07",
            D("0.55"),
        ),
        # Example #2: 16:35 charge 25 min at 1.20/h = 0.50; 17:00 charge 10 min; the total
        # 35 min rounds to 45 min by the last component's 900 s, so 20 min at 2.40/h = 0.80:
        # 1.30, as the spec says.
        (
            [
                ("2026-12-07T16:35", {"TIME": 25 / 60}, "22"),
                ("2026-12-07T17:00", {"TIME": 10 / 60}, "22"),
            ],
            "2026-12-07T17:10",
            D("1.30"),
        ),
        # Free of charge after 20:00: 19:40 charge 12 min at 2.40/h (after 17:00) = 0.48;
        # 19:52 park 8 min -> 15 min at 1.00/h = 0.25; 20:00 park 12 min: no component, free.
        # 0.73, not the spec's 0.80 (its table prices the charging at 1.20/h and the parking
        # at 2.40/h, neither of which the tariff says after 17:00), as docs/pricing.md notes.
        (
            [
                ("2026-12-07T19:40", {"TIME": 12 / 60}, "22"),
                ("2026-12-07T19:52", {"PARKING_TIME": 8 / 60}, "22"),
                ("2026-12-07T20:00", {"PARKING_TIME": 12 / 60}, "22"),
            ],
            "2026-12-07T20:12",
            D("0.73"),
        ),
    ],
)
def test_tariff_14_step_size_examples_as_cdrs(
    periods: list[tuple[str, dict[str, float], str | None]], end: str, expected: Decimal
) -> None:
    cdr = priced_cdr("T14", periods, end=end, total_cost={"excl_vat": float(expected)})
    result = price(cdr, spec_example("tariff_14_step_size.json"))
    # Tariff 14 states no VAT: the total incl. VAT is unknown.
    assert totals(result) == (expected, None)


def test_tariff_12_min_price() -> None:
    cdr = priced_cdr(
        "T12",
        [("2026-12-07T10:00", {"ENERGY": 1.2, "TIME": 0.25}, "20")],
        end="2026-12-07T10:15",
        total_cost={"excl_vat": 0.5, "incl_vat": 0.55},
    )
    result = price(cdr, spec_example("tariff_12_025kwh_min_price.json"))
    # 1.2 kWh x 0.25 = 0.30 excl., 0.33 incl. (10 %): below min_price 0.50 / 0.55, which the
    # total becomes on each side.
    assert amounts(result, Dimension.ENERGY) == [D("0.3")]
    assert totals(result) == (D("0.50"), D("0.55"))
    assert result.min_price_applied


def test_tariff_6_max_price_within_its_validity() -> None:
    t = spec_example("tariff_6_025kwh_start_max_price.json")  # valid until 2019-06-30
    cdr = priced_cdr(
        "T6",
        [("2019-06-01T10:00", {"ENERGY": 50.0, "TIME": 4.0}, "16")],
        end="2019-06-01T14:00",
        total_cost={"excl_vat": 10.0, "incl_vat": 11.0},
    )
    result = price(cdr, t)
    # FLAT 0.50 (0.60 at 20 %) + 50 kWh x 0.25 = 12.50 (13.75 at 10 %): 13.00 / 14.35, above
    # max_price 10.00 / 11.00, which the total becomes.
    assert totals(result) == (D("10.00"), D("11.00"))
    assert result.max_price_applied
    late = priced_cdr(
        "T6-LATE",
        [("2019-07-01T10:00", {"ENERGY": 5.0}, "16")],
        end="2019-07-01T11:00",
        total_cost={"excl_vat": 1.75},
    )
    with pytest.raises(PricingError, match="tariff 16: the tariff was in force until"):
        price(late, t)


def test_tariff_15_reservation_then_charging() -> None:
    cdr = priced_cdr(
        "T15",
        [
            ("2026-12-07T10:00", {"RESERVATION_TIME": 0.25}, "20"),
            ("2026-12-07T10:15", {"ENERGY": 20.0, "TIME": 1.0}, "20"),
        ],
        end="2026-12-07T11:15",
        total_cost={"excl_vat": 6.75, "incl_vat": 7.6},
    )
    result = price(cdr, spec_example("tariff_15_reservation_5_euro_per_hour.json"))
    # Reservation 15 min at 5.00/h = 1.25 (1.50 at 20 %); FLAT 0.50 (0.60); 20 kWh x 0.25 =
    # 5.00 (5.50 at 10 %): 6.75 / 7.60, as the spec's table.
    assert (result.reservation.excl_vat, result.reservation.incl_vat) == (D("1.25"), D("1.5"))
    assert totals(result) == (D("6.75"), D("7.60"))


def test_tariff_16_reservation_fee_and_steps() -> None:
    cdr = priced_cdr(
        "T16",
        [
            ("2026-12-07T10:00", {"RESERVATION_TIME": 13 / 60}, "20"),
            ("2026-12-07T10:13", {"ENERGY": 20.0, "TIME": 1.0}, "20"),
        ],
        end="2026-12-07T11:13",
        total_cost={"excl_vat": 8.75, "incl_vat": 10.0},
    )
    result = price(cdr, spec_example("tariff_16_reservation_2_euro_fee_5_euro_per_hour.json"))
    # Reservation fee 2.00 (2.40) + 13 min -> 15 min (300 s) at 5.00/h = 1.25 (1.50); FLAT
    # 0.50 (0.60); energy 5.00 (5.50): 8.75 / 10.00, as the spec's table.
    assert result.reservation.excl_vat == D("3.25")
    assert totals(result) == (D("8.75"), D("10.00"))


@pytest.mark.parametrize(
    ("name", "hours", "expected"),
    [
        # Expired after 1 h: the expiry fee 4.00 (4.80) + 60 min at 2.00/h = 2.00 (2.40):
        # 6.00 / 7.20, as the spec says.
        ("tariff_17_reservation_with_expire_fee.json", 1.0, (D("6.00"), D("7.20"))),
        # Expired after 1.5 h: 90 min at the RESERVATION_EXPIRES 6.00/h = 9.00 (10.80).
        ("tariff_18_reservation_with_expire_time.json", 1.5, (D("9.00"), D("10.80"))),
    ],
)
def test_an_expired_reservation(name: str, hours: float, expected: tuple[Decimal, Decimal]) -> None:
    cdr = priced_cdr(
        "EXP",
        [("2026-12-07T10:00", {"RESERVATION_TIME": hours}, "20")],
        end="2026-12-07T11:30" if hours > 1 else "2026-12-07T11:00",
        total_cost={"excl_vat": float(expected[0])},
    )
    assert totals(price(cdr, spec_example(name))) == expected


# --- CDRs of our own ------------------------------------------------------------------------


def test_energy_time_and_parking_with_step_sizes() -> None:
    result = price(steps_cdr("OWN1", {"excl_vat": 4.89, "incl_vat": 6.06}), STEPS)
    # ENERGY 8.25 kWh in 100 Wh steps: 82.5 -> 83 steps = 8.3 kWh x 0.30 = 2.49.
    # TIME 45 min x 1.20/h = 0.90: not rounded, parking follows (mod_cdrs, step_size).
    # PARKING 12 min in 300 s steps -> 15 min = 0.25 h x 6.00 = 1.50.
    # 2.49 + 0.90 + 1.50 = 4.89 excl.; x 1.24 = 6.0636 -> 6.06 incl.
    assert (result.energy.quantity, result.energy.excl_vat) == (D("8.3"), D("2.49"))
    assert (result.time.quantity, result.time.excl_vat) == (D("0.75"), D("0.9"))
    assert (result.parking.quantity, result.parking.excl_vat) == (D("0.25"), D("1.5"))
    assert totals(result) == (D("4.89"), D("6.06"))


def test_without_parking_the_charging_time_is_rounded() -> None:
    cdr = priced_cdr(
        "OWN2",
        [("2026-12-07T10:00", {"ENERGY": 8.0, "TIME": 0.7525}, "STEPS")],
        end="2026-12-07T10:45:09",
        total_cost={"excl_vat": 3.31},
    )
    result = price(cdr, STEPS)
    # TIME 0.7525 h = 2709 s, in 60 s steps: 45.15 -> 46 min = 0.92 (46/60 x 1.20);
    # ENERGY 8.0 kWh = 80 steps exactly: 2.40. 3.32 excl.; x 1.24 = 4.1168 -> 4.12.
    assert result.time.excl_vat == D("0.92")
    assert totals(result) == (D("3.32"), D("4.12"))


PEAK = tariff(
    "PEAK",
    element(component("ENERGY", 0.40, vat=25.5), start_time="17:00", end_time="20:00"),
    element(component("ENERGY", 0.20, vat=25.5)),
)


def test_restrictions_by_time_of_day_in_the_locations_zone() -> None:
    periods: list[tuple[str, dict[str, float], str | None]] = [
        ("2026-12-07T16:30", {"ENERGY": 5.0, "TIME": 0.5}, "PEAK"),
        ("2026-12-07T17:00", {"ENERGY": 6.0, "TIME": 0.5}, "PEAK"),
    ]
    cdr = priced_cdr(
        "PEAK1", periods, end="2026-12-07T17:30", total_cost={"excl_vat": 3.4}, zone=HELSINKI
    )
    # The periods start at 14:30Z and 15:00Z: 16:30 and 17:00 in Helsinki (UTC+2 in winter).
    # 5 kWh x 0.20 = 1.00 before 17:00 + 6 kWh x 0.40 = 2.40 from 17:00: 3.40 excl.;
    # x 1.255 = 4.267 -> 4.27 incl.
    assert totals(price(cdr, PEAK, zone=HELSINKI)) == (D("3.40"), D("4.27"))
    # Read in UTC (14:30 and 15:00) both are off-peak: 11 kWh x 0.20 = 2.20, the wrong price
    # a calculator ignoring the Location's zone would give.
    assert price(cdr, PEAK, zone=ZoneInfo("UTC")).total_excl_vat == D("2.20")
    with pytest.raises(PricingError, match="time_zone is unknown"):
        price(cdr, PEAK, zone=None)


def test_a_period_across_a_price_change_is_priced_at_its_start_and_noted() -> None:
    cdr = priced_cdr(
        "ACROSS",
        [("2026-12-07T16:30", {"ENERGY": 11.0, "TIME": 1.0}, "PEAK")],
        end="2026-12-07T17:30",
        total_cost={"excl_vat": 3.4},
        zone=HELSINKI,
    )
    result = price(cdr, PEAK, zone=HELSINKI)
    # One period 16:30-17:30 in Helsinki, where the CPO had to start a new one at 17:00: all
    # 11 kWh at the off-peak 0.20 of its start = 2.20, and a note says why it may differ.
    assert result.total_excl_vat == D("2.20")
    assert result.notes == (
        "charging_periods[0] (2026-12-07T14:30:00+00:00) runs across a change of its ENERGY "
        "price (tariff PEAK): priced as at its start",
    )
    # Periods cut where the price changes (the test above) have no note.
    split = priced_cdr(
        "SPLIT",
        [
            ("2026-12-07T16:30", {"ENERGY": 5.0, "TIME": 0.5}, "PEAK"),
            ("2026-12-07T17:00", {"ENERGY": 6.0, "TIME": 0.5}, "PEAK"),
        ],
        end="2026-12-07T17:30",
        total_cost={"excl_vat": 3.4},
        zone=HELSINKI,
    )
    assert price(split, PEAK, zone=HELSINKI).notes == ()


def test_a_vat_per_component_and_one_without_vat() -> None:
    mixed = tariff(
        "MIXED",
        element(
            component("FLAT", 1.00, vat=0.0),
            component("ENERGY", 0.30, vat=24.0),
            component("PARKING_TIME", 2.00),
        ),
    )
    cdr = priced_cdr(
        "MIX",
        [
            ("2026-12-07T10:00", {"ENERGY": 10.0, "TIME": 1.0}, "MIXED"),
            ("2026-12-07T11:00", {"PARKING_TIME": 0.5}, "MIXED"),
        ],
        end="2026-12-07T11:30",
        total_cost={"excl_vat": 5.0, "incl_vat": 5.72},
    )
    # FLAT 1.00 at 0 % = 1.00; ENERGY 10 x 0.30 = 3.00 at 24 % = 3.72; PARKING 0.5 h x 2.00 =
    # 1.00 with no VAT applicable = 1.00. 5.00 excl., 5.72 incl.
    assert totals(price(cdr, mixed)) == (D("5.00"), D("5.72"))


def test_a_period_without_tariff_is_free_and_several_tariffs_each_bound_their_own() -> None:
    capped = tariff(
        "CAPPED", element(component("TIME", 3.0, vat=20.0)), max_price={"excl_vat": 2.0}
    )
    cdr = priced_cdr(
        "TWO",
        [
            ("2026-12-07T10:00", {"ENERGY": 4.0, "TIME": 0.5}, "STEPS"),
            ("2026-12-07T10:30", {"ENERGY": 1.0, "TIME": 0.5}, None),
            ("2026-12-07T11:00", {"ENERGY": 1.0, "TIME": 1.0}, "CAPPED"),
        ],
        end="2026-12-07T12:00",
        total_cost={"excl_vat": 3.8},
    )
    result = price(cdr, STEPS, capped)
    # STEPS: 4 kWh x 0.30 = 1.20 + 30 min x 1.20/h = 0.60 = 1.80 (2.232 incl.). The middle
    # period names no tariff: free. CAPPED: 1 h x 3.00 = 3.00, capped at 2.00 excl.; its
    # max_price has no incl_vat, so the VAT of the total is unknown. 1.80 + 2.00 = 3.80.
    assert totals(result) == (D("3.80"), None)
    assert result.tariff_ids == ("CAPPED", "STEPS")


def test_what_cannot_be_priced_says_why() -> None:
    cdr = priced_cdr(
        "BAD", [("2026-12-07T10:00", {"ENERGY": 1.0}, "NOPE")], end="2026-12-07T11:00",
        total_cost=NO_COST,
    )  # fmt: skip
    with pytest.raises(PricingError, match="tariff NOPE is unknown"):
        price(cdr, STEPS)
    unnamed = priced_cdr(
        "NONE", [("2026-12-07T10:00", {"ENERGY": 1.0}, None)], end="2026-12-07T11:00",
        total_cost=NO_COST,
    )  # fmt: skip
    with pytest.raises(PricingError, match="no charging period names a tariff"):
        price_cdr(unnamed, {}, zone=BERLIN)
    # A CDR naming none but carrying exactly one tariff is priced by that one: 1 kWh = 0.30.
    assert price(unnamed, STEPS).total_excl_vat == D("0.30")
    dollars = {**STEPS, "currency": "USD"}
    with pytest.raises(PricingError, match="tariff STEPS is in USD, the CDR in EUR"):
        price({**cdr, "charging_periods": [{**cdr["charging_periods"][0], "tariff_id": "STEPS"}]},
              dollars)  # fmt: skip
    broken = {**cdr, "charging_periods": [{"start_date_time": "yesterday", "dimensions": []}]}
    with pytest.raises(PricingError, match=r"^cdr: charging_periods\[0\].start_date_time is not"):
        price(broken, STEPS)


@pytest.mark.parametrize("volume", ["1E-99999999", "1E+99999999", "0.1" + "0" * 40 + "1"])
def test_a_number_exact_arithmetic_cannot_take_is_refused_not_computed(volume: str) -> None:
    # A valid OCPI number (a float: 1E-99999999 is 0.0) whose exact value would need a
    # hundred-million-digit integer: refused at once, or the hub would hang on the CDR.
    from incar.exactjson import parse_body

    text = json.dumps(priced_cdr(
        "HUGE", [("2026-12-07T10:00", {"ENERGY": 1.5}, "STEPS")], end="2026-12-07T11:00",
        total_cost=NO_COST,
    )).replace('"volume": 1.5', f'"volume": {volume}')  # fmt: skip
    cdr = parse_body(text.encode(), max_depth=20)  # as the hub parses a body: literals kept
    with pytest.raises(PricingError, match=r"^cdr: charging_periods\[0\].dimensions\[0\].volume"):
        price(cdr, STEPS)
    zero = parse_body(text.replace(volume, "0E-99999999").encode(), max_depth=20)
    assert price(zero, STEPS).total_excl_vat == 0


def test_yen_are_rounded_to_whole_yen() -> None:
    yen = {**tariff("YEN", element(component("ENERGY", 33.3, vat=10.0))), "currency": "JPY"}
    cdr = priced_cdr(
        "JPY", [("2026-12-07T10:00", {"ENERGY": 10.0}, "YEN")], end="2026-12-07T11:00",
        total_cost={"excl_vat": 333.0}, currency="JPY",
    )  # fmt: skip
    # 10 kWh x 33.3 = 333 yen; x 1.10 = 366.3 -> 366 (JPY has no minor unit).
    assert totals(price(cdr, yen)) == (D("333"), D("366"))
