"""Alembic migrations of the platform's tables (SQLite and PostgreSQL)."""
