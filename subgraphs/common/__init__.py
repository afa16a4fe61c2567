"""Plumbing every subgraph shares: its schema's limits, its ASGI app, its published SDL."""
