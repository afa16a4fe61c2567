"""Live traffic from floating car data: probe traces in (``probes``), map-matched into speeds
per edge (``matching``), kept while fresh (``store``) and written into Valhalla's own
live-traffic extract (``extract``), which the engine routes on."""
