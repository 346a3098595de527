"""The catalogue: locations, subnets, hosts, OS images, products and customers.

One module per kind of entry, each with its spec (what an operator states, references by
natural key), its pure checks and its `Kind`; `records` creates, changes and deletes any of
them the same way, with one audit row per change in the change's transaction, refusing to
delete what is in use (naming what uses it) and changes that would break running services.
`document` reads and writes the whole catalogue as one YAML document (`catalogue apply`).
"""

from __future__ import annotations

from fluxbilling.catalogue import (
    customers,
    document,
    hosts,
    images,
    locations,
    products,
    records,
    subnets,
)

__all__ = [
    "customers",
    "document",
    "hosts",
    "images",
    "locations",
    "products",
    "records",
    "subnets",
]
