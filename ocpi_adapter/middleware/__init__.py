"""Pure ASGI middleware of the hub, one per file."""
