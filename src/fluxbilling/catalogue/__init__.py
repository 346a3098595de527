"""The catalogue: locations, hosts, subnets, OS images, products and customers."""

from __future__ import annotations

__all__: list[str] = []
