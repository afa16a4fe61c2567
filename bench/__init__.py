"""Benchmarks of the hub; see bench/README.md. Nothing here is imported by the hub itself."""
