"""The commands module: remote commands and their asynchronous results (mod_commands)."""
