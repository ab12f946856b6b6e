"""Alembic migrations of the server's schema (run by `hallwatch server migrate` and at start)."""
