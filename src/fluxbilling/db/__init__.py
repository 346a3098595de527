"""Storage: the table definitions, the database handle, prepared statements and the migrations."""

from __future__ import annotations

from fluxbilling.db import schema, statements
from fluxbilling.db.database import Database, is_transient

__all__ = ["Database", "is_transient", "schema", "statements"]
