"""The CSV export's filters by name, for its HTTP query parameters and the command line's
options (imports nothing: the command line builds its parser from these without loading the
database layer)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class FilterParam:
    name: str  # the HTTP query parameter; the command line's option is --name-with-dashes
    help: str

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


#: The export's filters, as query parameters and command-line options.
FILTERS: Final = (
    FilterParam("start_from", "charging started at or after this OCPI DateTime (UTC)"),
    FilterParam("start_to", "charging started before this OCPI DateTime (UTC)"),
    FilterParam("cpo", "of this CPO, as CC*PID (e.g. FI*CP1)"),
    FilterParam("emsp", "of this eMSP's customers, as CC*PID"),
    FilterParam("location_id", "at this Location of the CPO given with cpo"),
    FilterParam("evse_uid", "on this EVSE (its uid)"),
    FilterParam("token_uid", "charged with this token (cdr_token.uid)"),
    FilterParam("tariff_id", "priced with this tariff"),
    FilterParam(
        "price_check",
        "the hub's price check is one of these, comma-separated: ok, mismatch, unpriceable",
    ),
)
