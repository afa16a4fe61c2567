"""Locations context: Location, EVSE, Connector and Tariff as their CPOs publish them."""
