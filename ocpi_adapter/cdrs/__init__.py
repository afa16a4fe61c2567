"""The cdrs module: Charge Detail Records (mod_cdrs)."""
