"""Fixtures shared by every test tier."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run `@pytest.mark.anyio` tests on asyncio only (our runtime)."""
    return "asyncio"
