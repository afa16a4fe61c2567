"""The KPIs subgraph: per CPO and per hour, what the event log says happened (EVSE status
changes, sessions started, CDRs and their energy), kept by a durable consumer of the log."""
