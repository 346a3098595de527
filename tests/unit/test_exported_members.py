"""Every package's `__all__` names exactly what it exports, and each name exists (HTTPX style)."""

from __future__ import annotations

import importlib
import pkgutil

import pytest

import fluxbilling

MODULES = sorted(
    m.name
    for m in pkgutil.walk_packages(fluxbilling.__path__, "fluxbilling.")
    if ".migrations" not in m.name and not m.name.endswith("__main__")
)


PUBLIC = [name for name in MODULES if not name.rsplit(".", 1)[-1].startswith("_")]


@pytest.mark.parametrize("name", PUBLIC)
def test_all_names_exist(name: str) -> None:
    exported = importlib.import_module(name).__all__
    module = importlib.import_module(name)
    assert sorted(set(exported)) == sorted(exported), "duplicates in __all__"
    missing = [n for n in exported if not hasattr(module, n)]
    assert missing == []


def test_every_public_module_declares_all() -> None:
    undeclared = [name for name in PUBLIC if not hasattr(importlib.import_module(name), "__all__")]
    assert undeclared == []
