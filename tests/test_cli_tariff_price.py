"""``incar tariff price`` as an operator runs it: the installed command, as a subprocess, on
CDR and tariff files. No database: the check is offline."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.support.hub_process import INCAR
from tests.support.priced_cdrs import (
    HELSINKI,
    STEPS,
    component,
    element,
    priced_cdr,
    steps_cdr,
    tariff,
)
from tests.support.shared import SPEC_EXAMPLES


def incar(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [INCAR, "tariff", "price", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def write(folder: Path, name: str, data: Any) -> Path:
    path = folder / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def test_the_spec_example_prints_its_breakdown_and_matches() -> None:
    done = incar("--cdr", SPEC_EXAMPLES / "cdr_example.json")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    # 1.973 h billed in 300 s steps = 2 h x 2.00 = 4.00, x 1.10 = 4.40 (the CDR's own total).
    assert lines[0] == "CDR BE*BEC 12345 in EUR, tariffs 12"
    # Beside it what the CDR states for that part (its total_time_cost).
    assert lines[3].split() == ["time", "2", "h", "4.00", "4.40", "total_time_cost:", "4.00",
                                "/", "4.40"]  # fmt: skip
    assert lines[2].split() == ["energy", "0", "kWh", "0.00", "0.00"]  # no total_energy_cost
    assert lines[7].split() == ["total_cost", "4.00", "4.40"]
    assert lines[8].split() == ["stated", "total_cost", "4.00", "4.40"]
    assert lines[9] == "matches: yes (within one minor unit of the currency)"
    assert done.stderr == ""


def test_json_with_a_tariff_file_and_a_mismatch(tmp_path: Path) -> None:
    # Stated 5.39 / 6.68; the tariff gives 2.49 + 0.90 + 1.50 = 4.89 excl., x 1.24 = 6.06.
    cdr = steps_cdr("CLI1", {"excl_vat": 5.39, "incl_vat": 6.68})
    done = incar(
        "--cdr", write(tmp_path, "cdr.json", cdr), "--tariff", write(tmp_path, "t.json", STEPS),
        "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr  # priced: a mismatch is an answer, not a failure
    out = json.loads(done.stdout)
    assert out["total_cost"] == {"excl_vat": 4.89, "incl_vat": 6.06}
    assert out["stated_total_cost"] == {"excl_vat": 5.39, "incl_vat": 6.68}
    assert (out["status"], out["matches"]) == ("mismatch", False)
    assert out["difference"] == {"excl_vat": 0.5, "incl_vat": 0.62}
    assert out["breakdown"]["energy"] == {"quantity": 8.3, "excl_vat": 2.49, "incl_vat": 3.0876}
    assert out["breakdown"]["parking"]["quantity"] == 0.25
    assert out["stated_breakdown"]["energy"] is None  # the CDR states no total_energy_cost
    assert [line["dimension"] for line in out["lines"]] == ["ENERGY", "TIME", "PARKING_TIME"]


def test_a_list_of_tariffs_and_the_time_zone(tmp_path: Path) -> None:
    peak = tariff(
        "PEAK",
        element(component("ENERGY", 0.40, vat=25.5), start_time="17:00", end_time="20:00"),
        element(component("ENERGY", 0.20, vat=25.5)),
    )
    periods: list[tuple[str, dict[str, float], str | None]] = [
        ("2026-11-30T16:30", {"ENERGY": 5.0}, "PEAK"),
        ("2026-11-30T17:00", {"ENERGY": 6.0}, "PEAK"),
    ]
    cdr = write(tmp_path, "cdr.json", priced_cdr(
        "CLI2", periods, end="2026-11-30T17:30", total_cost={"excl_vat": 3.4}, zone=HELSINKI
    ))  # fmt: skip
    tariffs = write(tmp_path, "tariffs.json", [STEPS, peak])
    # 16:30 and 17:00 in Helsinki: 5 x 0.20 + 6 x 0.40 = 3.40; x 1.255 = 4.267 -> 4.27.
    done = incar("--cdr", cdr, "--tariff", tariffs, "--time-zone", "Europe/Helsinki", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["total_cost"] == {"excl_vat": 3.4, "incl_vat": 4.27}
    # Without the zone a local-time tariff cannot be priced: one line, exit status 1.
    done = incar("--cdr", cdr, "--tariff", tariffs)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr == (
        "incar tariff price: cannot price the CDR: tariff PEAK restricts by local time and the "
        "Location's time_zone is unknown (give --time-zone)\n"
    )


@pytest.mark.parametrize(
    ("files", "status", "message"),
    [
        ({"cdr": None}, 2, "cannot read CDR file {cdr}: No such file or directory"),
        ({"cdr": "{"}, 2, "CDR file {cdr} is not JSON: "),
        ({"cdr": "[1]"}, 2, "CDR file {cdr} does not hold a JSON object (a CDR)"),
        ({"cdr": "OK", "tariff": '"x"'}, 2, "tariff file {tariff} holds neither a Tariff"),
        ({"cdr": "OK", "tariff": None}, 2, "cannot read tariff file {tariff}: No such file"),
        ({"cdr": "BARE"}, 1, "cannot price the CDR: tariff STEPS is unknown (the CDR carries no"),
    ],
)
def test_bad_files_are_one_line_on_stderr(
    tmp_path: Path, files: dict[str, str | None], status: int, message: str
) -> None:
    good = steps_cdr("CLI3", {"excl_vat": 4.89})
    paths: dict[str, Path] = {}
    named = {"OK": json.dumps({**good, "tariffs": [STEPS]}), "BARE": json.dumps(good)}
    for role, given in files.items():
        paths[role] = tmp_path / f"{role}.json"
        if given is not None:
            paths[role].write_text(named.get(given, given), encoding="utf-8")
    args: list[str | Path] = ["--cdr", paths["cdr"]]
    if "tariff" in paths:
        args += ["--tariff", paths["tariff"]]
    done = incar(*args)
    assert done.returncode == status
    assert done.stdout == ""
    assert done.stderr.startswith("incar tariff price: " + message.format(**paths))
    assert done.stderr.count("\n") == 1
