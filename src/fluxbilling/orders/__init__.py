"""Orders: the pipeline table and the phase services."""

from __future__ import annotations

__all__: list[str] = []
