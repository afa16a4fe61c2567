"""Shared plumbing of INCAR: settings, database engine, event bus and the command line."""
