"""The descriptions of the root types, one for every subgraph: composition keeps one text for
a type that several subgraphs define, so a subgraph's own words ("Bookings.") would stand for
the whole graph in GraphiQL."""

QUERY = "What the INCAR graph answers: stations, tariffs, the driver, sessions, bookings."
MUTATION = "What a driver does through their eMSP: book, cancel, start and stop charging."
SUBSCRIPTION = "What the INCAR graph streams live: EVSE status and charging progress."
