"""Alembic migrations (run with `fluxbilling migrate`)."""
