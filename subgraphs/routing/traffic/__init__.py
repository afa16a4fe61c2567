"""Live traffic from floating car data: probe traces in (``probes``), map-matched into speeds
per edge (``matching``), kept while fresh (``store``), and applied to car routes (``eta``)."""
