"""The HTTP API (FastAPI): `/api/v1` for operators and systems, `/webhooks` for gateways."""

from __future__ import annotations

from fluxbilling.api.app import create_app

__all__ = ["create_app"]
