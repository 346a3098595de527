"""Allocation: which host a service lands on, and the reservation of its capacity."""

from __future__ import annotations

from fluxbilling.allocation.choice import Host, Need, Placement, Strategy, choose
from fluxbilling.allocation.placement import HostCapacity, Requirement, choose_host

__all__ = [
    "Host",
    "HostCapacity",
    "Need",
    "Placement",
    "Requirement",
    "Strategy",
    "choose",
    "choose_host",
]
