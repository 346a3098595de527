"""Fixtures shared by every test tier."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest


@pytest.fixture
def anyio_backend() -> str:
    """Run `@pytest.mark.anyio` tests on asyncio only (our runtime)."""
    return "asyncio"


@pytest.fixture(autouse=True)
def _root_logger_restored() -> Iterator[None]:
    """Give the root logger back as the test found it.

    A test that runs a command in-process (`cli.main`, the demo) installs our handler on the
    stream pytest captured for that test; left behind, later records (aiosqlite's threads log
    after a test ends) go to a closed file ("--- Logging error ---").
    """
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)
