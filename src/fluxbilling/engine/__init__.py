"""The durable engine: runs, claim/lease/fence, retry policy and the worker loop."""

from __future__ import annotations

from fluxbilling.engine.outcome import Done, Outcome, Pending

__all__ = ["Done", "Outcome", "Pending"]
