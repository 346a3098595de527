"""The VisualPluginManager: plugin versions in the database, loaded from a folder, hot-loaded on save.

Registering a document validates it whole (an invalid one is rejected and nothing is
stored), then stores it as the next version of its slug unless it is identical to the
newest version. Runs pin `slug@version` when they reach the provision phase, so a new
version never changes an order in flight. Watching a folder re-registers a file whenever
its content changes; an invalid file is reported and the last good version stays in force.

Validating a document costs time in proportion to its size (up to about a second for a
2 MiB one), so it runs in a worker thread (`limits.run_cpu_bound`), never on the event loop.
"""

from __future__ import annotations

import asyncio
import dataclasses
import hashlib
import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from fluxbilling import audit, errors, limits
from fluxbilling.db import Database, schema
from fluxbilling.jsontypes import JsonObject
from fluxbilling.plugins.graph import LoadedPlugin, load_plugin, load_plugin_file

__all__ = [
    "PluginManager",
    "PluginSummary",
    "Registration",
    "StoredVersion",
    "VersionInfo",
    "document_sha256",
]

log = logging.getLogger(__name__)
versions = schema.plugin_versions


def document_sha256(document: Mapping[str, Any]) -> str:
    """A content hash of a document, independent of key order and whitespace."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Registration:
    """The outcome of registering a document: its version, and whether it was stored now."""

    plugin: LoadedPlugin
    created: bool


@dataclass(frozen=True, slots=True)
class VersionInfo:
    """One stored version of a plugin, without its document."""

    slug: str
    version: int
    sha256: str
    source: str
    created_at: datetime


@dataclass(frozen=True, slots=True)
class StoredVersion:
    """One stored version of a plugin with its document exactly as registered."""

    info: VersionInfo
    document: JsonObject


@dataclass(frozen=True, slots=True)
class PluginSummary:
    """A registered plugin: its newest version's header and how many versions exist."""

    newest: VersionInfo
    versions: int
    name: str | None
    service_type: str | None
    capabilities: dict[str, bool]


def _validate(document: Mapping[str, Any]) -> tuple[LoadedPlugin, str]:
    """A document validated (as version 1) and its hash; CPU-bound, for a worker thread."""
    return load_plugin(document, 1), document_sha256(document)


def _load_stored(document: Mapping[str, Any], version: int) -> LoadedPlugin:
    """A stored version, loaded as written; CPU-bound, for a worker thread."""
    return load_plugin(document, version, strict=False)


def _info(row: Any) -> VersionInfo:
    return VersionInfo(row.slug, row.version, row.sha256, row.source, row.created_at)


class PluginManager:
    """Registers, caches and serves plugin versions."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._cache: dict[tuple[str, int], LoadedPlugin] = {}
        self._seen: dict[Path, str] = {}
        self.folder_errors: dict[str, str] = {}

    async def register(self, document: Mapping[str, Any], *, source: str) -> LoadedPlugin:
        """Validate `document` and store it as a new version (or return the identical newest one).

        Raises:
            errors.InvalidFlow: the document is invalid; nothing was stored.
        """
        return (await self.submit(document, source=source)).plugin

    async def submit(
        self, document: Mapping[str, Any], *, source: str, actor: str | None = None
    ) -> Registration:
        """Like `register`, and also say whether a new version was stored.

        Args:
            document: the whole plugin document (parsed JSON).
            source: where it came from, e.g. `api` or `file:acme.json` (at most 32 characters).
            actor: who submitted it; a new version is then audited (`plugin.register`) in
                the transaction that stores it.

        Returns:
            The loaded plugin and `created=False` when the document is identical to the
            newest version (nothing was stored), `created=True` when it became a new version.

        Raises:
            errors.InvalidFlow: the document is invalid; nothing was stored.
        """
        # Validate before touching the database.
        validated, digest = await limits.run_cpu_bound(_validate, document)
        slug = validated.slug
        for _ in range(3):
            try:
                async with self.db.begin() as conn:
                    newest = (
                        await conn.execute(
                            sa.select(versions.c.version, versions.c.sha256)
                            .where(versions.c.slug == slug)
                            .order_by(versions.c.version.desc())
                            .limit(1)
                        )
                    ).first()
                    if newest is not None and newest.sha256 == digest:
                        return Registration(await self.get(slug, newest.version), created=False)
                    version = 1 if newest is None else newest.version + 1
                    await conn.execute(
                        versions.insert().values(
                            slug=slug,
                            version=version,
                            document=dict(document),
                            sha256=digest,
                            source=source,
                        )
                    )
                    if actor is not None:
                        await audit.record(
                            conn,
                            actor=actor,
                            action="plugin.register",
                            entity="plugin",
                            entity_id=f"{slug}@{version}",
                            changes={"sha256": digest, "source": source},
                        )
            except sa.exc.IntegrityError:
                continue  # another process registered a version at the same moment
            plugin = dataclasses.replace(validated, version=version)
            self._cache[(slug, version)] = plugin
            log.info("plugin %s@%s registered from %s", slug, version, source)
            return Registration(plugin, created=True)
        raise errors.Conflict(f"plugin {slug}: concurrent registrations kept colliding")

    async def validate(self, document: Mapping[str, Any]) -> LoadedPlugin:
        """Validate `document` exactly as `submit` does, storing nothing (an unsaved draft).

        Returns:
            The document loaded as version 1 (it has no version of its own).

        Raises:
            errors.InvalidFlow: the document is invalid; `details["problems"]` names each
                problem by its path in the document.
        """
        validated, _ = await limits.run_cpu_bound(_validate, document)
        return validated

    async def latest_version(self, slug: str) -> int:
        """The newest version number of `slug`.

        Raises:
            errors.NotFound: no version of `slug` is registered.
        """
        async with self.db.connect() as conn:
            version = (
                await conn.execute(
                    sa.select(sa.func.max(versions.c.version)).where(versions.c.slug == slug)
                )
            ).scalar()
        if version is None:
            raise errors.NotFound(f"no plugin {slug!r} is registered", slug=slug)
        return int(version)

    async def get(self, slug: str, version: int | None = None) -> LoadedPlugin:
        """`slug@version` (newest when None), validated and cached."""
        if version is None:
            version = await self.latest_version(slug)
        cached = self._cache.get((slug, version))
        if cached is not None:
            return cached
        async with self.db.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(versions.c.document).where(
                        versions.c.slug == slug, versions.c.version == version
                    )
                )
            ).first()
        if row is None:
            raise errors.NotFound(f"plugin {slug}@{version} does not exist", slug=slug)
        plugin = await limits.run_cpu_bound(_load_stored, row.document, version)
        self._cache[(slug, version)] = plugin
        return plugin

    async def list_plugins(self) -> list[PluginSummary]:
        """Every registered slug with its newest version, by slug.

        Returns:
            One summary per slug; `name`, `service_type` and `capabilities` come from the
            newest version's `plugin` header.
        """
        newest = (
            sa.select(
                versions.c.slug,
                sa.func.max(versions.c.version).label("newest"),
                sa.func.count().label("version_count"),
            )
            .group_by(versions.c.slug)
            .subquery()
        )
        query = (
            sa.select(versions, newest.c.version_count)
            .join(
                newest,
                sa.and_(versions.c.slug == newest.c.slug, versions.c.version == newest.c.newest),
            )
            .order_by(versions.c.slug)
        )
        async with self.db.connect() as conn:
            rows = (await conn.execute(query)).all()
        summaries = []
        for row in rows:
            header = row.document.get("plugin") or {}
            summaries.append(
                PluginSummary(
                    newest=_info(row),
                    versions=int(row.version_count),
                    name=header.get("name"),
                    service_type=header.get("serviceType"),
                    capabilities=dict(header.get("capabilities") or {}),
                )
            )
        return summaries

    async def versions(self, slug: str) -> list[VersionInfo]:
        """Every stored version of `slug`, newest first.

        Raises:
            errors.NotFound: no version of `slug` is registered.
        """
        query = (
            sa.select(
                versions.c.slug,
                versions.c.version,
                versions.c.sha256,
                versions.c.source,
                versions.c.created_at,
            )
            .where(versions.c.slug == slug)
            .order_by(versions.c.version.desc())
        )
        async with self.db.connect() as conn:
            rows = (await conn.execute(query)).all()
        if not rows:
            raise errors.NotFound(f"no plugin {slug!r} is registered", slug=slug)
        return [_info(row) for row in rows]

    async def document(self, slug: str, version: int) -> StoredVersion:
        """The document of `slug@version` as it was registered (old versions stay readable).

        Raises:
            errors.NotFound: there is no such version.
        """
        async with self.db.connect() as conn:
            row = (
                await conn.execute(
                    sa.select(versions).where(
                        versions.c.slug == slug, versions.c.version == version
                    )
                )
            ).first()
        if row is None:
            raise errors.NotFound(
                f"plugin {slug}@{version} does not exist", slug=slug, version=version
            )
        return StoredVersion(_info(row), dict(row.document))

    async def sync_folder(self, folder: Path) -> list[LoadedPlugin]:
        """Register every changed `*.json` in `folder`; invalid files are reported, not fatal."""
        loaded = []
        for path in sorted(folder.glob("*.json")):
            try:
                text = path.read_bytes()
            except OSError as exc:
                self.folder_errors[str(path)] = str(exc)
                continue
            digest = hashlib.sha256(text).hexdigest()
            if self._seen.get(path) == digest:
                continue
            self._seen[path] = digest
            try:
                document = await limits.run_cpu_bound(load_plugin_file, path)
                plugin = await self.register(document, source=f"file:{path.name}")
            except errors.InvalidFlow as exc:
                self.folder_errors[str(path)] = exc.message
                log.error("plugin file %s rejected: %s", path, exc.message)
                continue
            self.folder_errors.pop(str(path), None)
            loaded.append(plugin)
        return loaded

    async def watch(self, folders: list[Path], stop: asyncio.Event, interval: float = 2.0) -> None:
        """Hot-load: re-sync `folders` every `interval` seconds until `stop` is set."""
        while not stop.is_set():
            for folder in folders:
                await self.sync_folder(folder)
            try:
                await asyncio.wait_for(stop.wait(), interval)
            except TimeoutError:
                continue
