"""The driver registry: a slug names a driver, native or visual, pinned at a version.

Native drivers are registered by the composition root, once, by slug (a duplicate is
refused at load time). Every other slug is asked of the `DriverSource` (the visual plugins,
which hot-load new versions), so phases and actions depend on this registry only.
"""

from __future__ import annotations

from typing import Protocol

from fluxbilling import errors
from fluxbilling.drivers.driver import Driver

__all__ = ["DriverRegistry", "DriverSource"]


class DriverSource(Protocol):
    """Drivers that come and go at run time, in versions (the visual plugins)."""

    async def latest_version(self, slug: str) -> int:
        """The newest version of `slug`.

        Raises:
            errors.NotFound: no driver has that slug.
        """
        ...

    async def get(self, slug: str, version: int | None = None) -> Driver:
        """`slug` at `version` (default: the newest).

        Raises:
            errors.NotFound: no such driver or version.
        """
        ...


class _NoSource:
    """A registry of native drivers only."""

    async def latest_version(self, slug: str) -> int:
        raise errors.NotFound(f"no driver {slug!r}", slug=slug)

    async def get(self, slug: str, version: int | None = None) -> Driver:
        raise errors.NotFound(f"no driver {slug!r}", slug=slug)


class DriverRegistry:
    """slug -> Driver: the native drivers first, then the source's."""

    def __init__(self, source: DriverSource | None = None) -> None:
        self._source: DriverSource = source or _NoSource()
        self._native: dict[str, Driver] = {}

    def register(self, driver: Driver) -> None:
        """Add a native driver.

        Raises:
            errors.InvalidSettings: a driver with that slug is registered already.
        """
        if driver.slug in self._native:
            raise errors.InvalidSettings(
                f"driver {driver.slug!r} is registered twice", slug=driver.slug
            )
        self._native[driver.slug] = driver

    async def latest_version(self, slug: str) -> int:
        """The version a service provisioned now pins.

        Raises:
            errors.NotFound: no driver has that slug.
        """
        native = self._native.get(slug)
        if native is not None:
            return native.version
        return await self._source.latest_version(slug)

    async def get(self, slug: str, version: int | None = None) -> Driver:
        """The driver `slug` at `version` (default: the newest).

        Raises:
            errors.NotFound: no such driver, or a native driver asked for another version.
        """
        native = self._native.get(slug)
        if native is None:
            return await self._source.get(slug, version)
        if version is not None and version != native.version:
            raise errors.NotFound(
                f"driver {slug!r} is at version {native.version}, not {version}",
                slug=slug,
                version=version,
            )
        return native
