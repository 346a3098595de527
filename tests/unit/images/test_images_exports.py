"""Every name in the `__all__` of `fluxbilling.images` and `fluxbilling.network` exists."""

from __future__ import annotations

import importlib

import pytest

MODULES = [
    "fluxbilling.images",
    "fluxbilling.images.cloudinit",
    "fluxbilling.images.hashing",
    "fluxbilling.images.passwords",
    "fluxbilling.network.dcim",
    "fluxbilling.network.firewall",
    "fluxbilling.network.ipam",
]


@pytest.mark.parametrize("name", MODULES)
def test_all_is_honest(name: str) -> None:
    module = importlib.import_module(name)
    exported = module.__all__
    assert sorted(set(exported)) == sorted(exported)
    for attribute in exported:
        assert hasattr(module, attribute), f"{name}.{attribute}"
