"""The locations module: Location, EVSE and Connector objects (mod_locations)."""
