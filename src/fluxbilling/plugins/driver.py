"""`FlowDriver`: a visual plugin pinned at `slug@version`, seen through the `Driver` protocol.

A verb runs its flow (`interpreter.run_flow`) with one upstream client per connection the
flow names (the operation's connection for nodes that name none). The flow's errors come
back as `Failed` with their class in the taxonomy; nothing else is caught. A driver made with
an `observer` traces every node it runs (`plugins.trace`), as the builder's test of a flow does.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

import jsonschema

from fluxbilling import errors, logs
from fluxbilling.drivers.driver import CAPABILITY_VERBS, VERBS, Driver, Operation, OsInstall
from fluxbilling.drivers.outcome import Failed, VerbOutcome
from fluxbilling.drivers.upstream import ExchangeRecorder, UpstreamHttp
from fluxbilling.plugins.graph import LoadedPlugin
from fluxbilling.plugins.interpreter import run_flow
from fluxbilling.plugins.trace import NO_OBSERVER, FlowObserver

__all__ = ["Connections", "FlowDriver", "FlowDrivers", "PluginVersions", "check_settings"]


class Connections(Protocol):
    """Upstream clients by connection name (`drivers.connections.ConnectionFactory`)."""

    async def client(self, name: str, recorder: ExchangeRecorder) -> UpstreamHttp:
        """A client for connection `name`, recording into `recorder`.

        Raises:
            errors.InvalidSettings: there is no such connection, or it is broken.
        """
        ...


class PluginVersions(Protocol):
    """Stored plugin versions (`plugins.manager.PluginManager`)."""

    async def latest_version(self, slug: str) -> int:
        """The newest version of `slug`."""
        ...

    async def get(self, slug: str, version: int | None = None) -> LoadedPlugin:
        """`slug` at `version` (default: the newest)."""
        ...


def check_settings(plugin: LoadedPlugin, options: Mapping[str, Any], product: str) -> None:
    """Check a product's options against the plugin's settings schema.

    Raises:
        errors.InvalidSettings: naming every option that is missing or wrong.
    """
    schema_doc = plugin.document.plugin.settings
    if not schema_doc:
        return
    validator = jsonschema.Draft202012Validator(schema_doc)
    problems = [
        {
            "path": "options" + "".join(f".{p}" for p in error.absolute_path),
            "message": error.message,
        }
        for error in sorted(validator.iter_errors(dict(options)), key=lambda e: list(e.path))
    ]
    if problems:
        raise errors.InvalidSettings(
            f"product {product}: options do not fit plugin {plugin.slug}@{plugin.version}: "
            + "; ".join(f"{p['path']}: {p['message']}" for p in problems),
            problems=problems,
        )


class FlowDriver:
    """One plugin version as a driver: it declares `plugin.capabilities` and runs its flows.

    A flow no capability declares still runs inside the pipeline (a `reinstall` flow for the
    os_install phase), but an operator may only request the actions a plugin declares.
    """

    def __init__(
        self,
        plugin: LoadedPlugin,
        connections: Connections,
        *,
        observer: FlowObserver = NO_OBSERVER,
    ) -> None:
        self.plugin = plugin
        self._connections = connections
        self._observer = observer
        declared = plugin.document.plugin.capabilities
        self._capabilities = frozenset(
            n for n, on in declared.items() if on and n in CAPABILITY_VERBS
        )
        # The `test` flow is the connection test's (plugins.probe), not a verb of the driver.
        self._verbs = frozenset(plugin.document.flows) & VERBS

    @property
    def slug(self) -> str:
        """The plugin's slug."""
        return self.plugin.slug

    @property
    def version(self) -> int:
        """The pinned version."""
        return self.plugin.version

    @property
    def capabilities(self) -> frozenset[str]:
        """The capabilities `plugin.capabilities` turns on."""
        return self._capabilities

    @property
    def verbs(self) -> frozenset[str]:
        """The verbs the document has a flow for."""
        return self._verbs

    @property
    def os_install(self) -> OsInstall:
        """`plugin.osInstall`, or its default for the service type and flows."""
        return self.plugin.document.os_install_mode

    @property
    def connection_type(self) -> str | None:
        """`plugin.connectionType`."""
        return self.plugin.document.plugin.connection_type

    def validate(self, settings: Mapping[str, Any], product: str) -> None:
        """Check the product's options against the plugin's settings schema."""
        check_settings(self.plugin, settings, product)

    async def run(self, operation: Operation) -> VerbOutcome:
        """Run (or resume) the verb's flow; a classified error comes back as `Failed`."""
        try:
            return await self._run(operation)
        except errors.FluxError as exc:
            return Failed(exc)

    async def _run(self, operation: Operation) -> VerbOutcome:
        clients: dict[str, UpstreamHttp] = {}
        logs.register_secret(*operation.secrets, recent=True)
        try:
            for name in self.connection_names(operation.verb, operation.connection):
                client = await self._connections.client(name, operation.recorder)
                client.redactor = client.redactor.with_secrets(operation.secrets)
                clients[name] = client

            def http(name: str) -> UpstreamHttp:
                if name not in clients:
                    raise errors.InvalidSettings(
                        f"plugin {self.slug} names unknown connection {name!r}"
                    )
                return clients[name]

            return await run_flow(
                self.plugin,
                operation.verb,
                {**operation.context, "correlation_id": operation.correlation_key},
                http,
                operation.cursor,
                now=operation.now,
                default_connection=operation.connection,
                observer=self._observer,
            )
        finally:
            for client in clients.values():
                await client.aclose()

    def connection_names(self, verb: str, default: str) -> set[str]:
        """The connections the `verb` flow may reach: `default` and those its nodes name.

        A node naming its connection by a template reaches none: only these names get a
        client when the verb runs.
        """
        names = {default}
        for node in self.plugin.flow(verb).model_dump()["nodes"]:
            name = node.get("connection")
            if isinstance(name, str) and name and "{{" not in name:
                names.add(name)
        return names


class FlowDrivers:
    """The visual plugins as a `drivers.registry.DriverSource`."""

    def __init__(self, plugins: PluginVersions, connections: Connections) -> None:
        self._plugins = plugins
        self._connections = connections

    async def latest_version(self, slug: str) -> int:
        """The newest registered version of plugin `slug`."""
        return await self._plugins.latest_version(slug)

    async def get(self, slug: str, version: int | None = None) -> Driver:
        """Plugin `slug` at `version` (default: the newest) as a driver."""
        return FlowDriver(await self._plugins.get(slug, version), self._connections)
