"""FluxBilling provisioning core: a paid order becomes a running service, with no human in the loop."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
