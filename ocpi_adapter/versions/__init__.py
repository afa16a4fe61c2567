"""The versions module: the hub's versions and version details, and discovery of a peer's."""
