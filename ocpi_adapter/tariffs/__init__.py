"""The tariffs module: Tariff objects pushed by CPOs (mod_tariffs)."""
