"""Bookings context: drivers' reservations of EVSEs, exclusive until they end or expire."""
