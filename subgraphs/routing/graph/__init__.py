"""The routing subgraph's schema: routes between places and stations nearest by travel time."""
