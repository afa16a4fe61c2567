"""The sessions module: charging Sessions and Charging Preferences (mod_sessions)."""
