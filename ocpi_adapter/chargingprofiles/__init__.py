"""The chargingprofiles module: smart charging profiles and their results."""
