"""API simulators of the vendors we provision on, for tests and demos."""

from __future__ import annotations

__all__: list[str] = []
