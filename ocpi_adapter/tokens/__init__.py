"""The tokens module: Tokens and real-time authorization (mod_tokens)."""
