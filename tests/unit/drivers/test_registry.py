from __future__ import annotations

import pytest

from fluxbilling import errors
from fluxbilling.drivers.driver import Driver
from fluxbilling.drivers.registry import DriverRegistry
from fluxbilling.testing import FakeDriver

pytestmark = pytest.mark.anyio


class Source:
    """Visual plugins: `acme` in versions 1 and 2; keeps what it was asked."""

    def __init__(self) -> None:
        self.versions = {1: FakeDriver("acme", 1), 2: FakeDriver("acme", 2)}
        self.asked: list[tuple[str, int | None]] = []

    async def latest_version(self, slug: str) -> int:
        if slug != "acme":
            raise errors.NotFound(f"no plugin {slug!r}")
        return max(self.versions)

    async def get(self, slug: str, version: int | None = None) -> Driver:
        self.asked.append((slug, version))
        return self.versions[version or max(self.versions)]


async def test_a_native_driver_answers_for_its_slug_before_the_source() -> None:
    source = Source()
    registry = DriverRegistry(source)
    ironic = FakeDriver("ironic", version=3)
    registry.register(ironic)
    assert await registry.latest_version("ironic") == 3
    assert await registry.get("ironic") is ironic
    assert await registry.get("ironic", 3) is ironic
    assert source.asked == []


async def test_other_slugs_come_from_the_source_at_the_version_asked() -> None:
    source = Source()
    registry = DriverRegistry(source)
    assert await registry.latest_version("acme") == 2
    assert (await registry.get("acme", 1)).version == 1
    assert (await registry.get("acme")).version == 2
    assert source.asked == [("acme", 1), ("acme", None)]


async def test_a_native_driver_has_one_version() -> None:
    registry = DriverRegistry()
    registry.register(FakeDriver("ironic", version=3))
    with pytest.raises(errors.NotFound, match="is at version 3, not 2"):
        await registry.get("ironic", 2)


async def test_without_a_source_an_unknown_slug_is_not_found() -> None:
    registry = DriverRegistry()
    with pytest.raises(errors.NotFound, match="no driver 'acme'"):
        await registry.latest_version("acme")
    with pytest.raises(errors.NotFound, match="no driver 'acme'"):
        await registry.get("acme")


def test_a_slug_registers_once() -> None:
    registry = DriverRegistry()
    registry.register(FakeDriver("ironic"))
    with pytest.raises(errors.InvalidSettings, match="registered twice"):
        registry.register(FakeDriver("ironic", version=2))
