"""Allocation: which host a service lands on, and the reservation of its capacity."""

from __future__ import annotations

from fluxbilling.allocation.placement import HostCapacity, Requirement, choose_host

__all__ = ["HostCapacity", "Requirement", "choose_host"]
