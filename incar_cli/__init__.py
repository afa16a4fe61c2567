"""The ``incar`` command line and the demo: they start everything, so they sit above the doors
(ocpi_adapter, subgraphs, simulator) and the foundation (incar)."""
