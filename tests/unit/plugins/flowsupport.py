"""Run a plugin's flows against an in-process panel (a simulator or a fake) as the engine would.

A test module describes its plugin once::

    FLOWS = Flows(PLUGIN, connection="solusvm2", base_url=BASE_URL)

opens clients to the panel with `FLOWS.client(transport, **options)` and drives a verb with a
context it builds itself: `done, calls = await FLOWS.drive(client, "provision", ctx)` resumes
each Pending cursor at its `check_after` until the flow is Done.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from fluxbilling import plugins
from fluxbilling.drivers.upstream import UpstreamHttp
from fluxbilling.engine.outcome import Done, Pending
from fluxbilling.plugins_builtin import builtin_plugin_paths

START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
"""When a flow first runs; each resumed call runs `check_after` later."""


def shipped_path(slug: str) -> Path:
    """The shipped plugin file `<slug>.json`."""
    return next(p for p in builtin_plugin_paths() if p.name == f"{slug}.json")


def shipped_document(slug: str) -> dict[str, Any]:
    """The shipped plugin file `<slug>.json`, parsed (not yet loaded)."""
    return plugins.load_plugin_file(shipped_path(slug))


@dataclass(frozen=True)
class Flows:
    """A plugin whose flows may ask for one connection only, `connection` at `base_url`."""

    plugin: plugins.LoadedPlugin
    connection: str
    base_url: str
    default_connection: str | None = None
    """Passed to `run_flow` (None: its own default)."""
    max_calls: int = 50
    """How many calls `drive` makes before it gives up on a flow."""

    @asynccontextmanager
    async def client(
        self, transport: httpx.AsyncBaseTransport, **options: Any
    ) -> AsyncIterator[UpstreamHttp]:
        """The connection's client, through `transport` (`options` go to `UpstreamHttp`)."""
        http = UpstreamHttp(self.connection, self.base_url, transport=transport, **options)
        try:
            yield http
        finally:
            await http.aclose()

    def connections(self, client: UpstreamHttp) -> Callable[[str], UpstreamHttp]:
        """What `run_flow` looks connections up with: `client`, for our connection only."""

        def get(name: str) -> UpstreamHttp:
            assert name == self.connection
            return client

        return get

    async def run(
        self,
        client: UpstreamHttp,
        verb: str,
        ctx: Mapping[str, Any],
        cursor: Mapping[str, Any] | None = None,
        *,
        now: datetime = START,
    ) -> Done | Pending:
        """One call of the `verb` flow (a fresh run, or resuming `cursor`)."""
        return await plugins.run_flow(
            self.plugin,
            verb,
            ctx,
            self.connections(client),
            cursor,
            now=now,
            default_connection=self.default_connection,
        )

    async def drive(
        self,
        client: UpstreamHttp,
        verb: str,
        ctx: Mapping[str, Any],
        *,
        max_calls: int | None = None,
    ) -> tuple[Done, int]:
        """Run a flow to completion the way the engine would: resume each Pending cursor.
        The outcome, and how many calls it took."""
        limit = self.max_calls if max_calls is None else max_calls
        cursor = None
        now = START
        for calls in range(1, limit + 1):
            outcome = await self.run(client, verb, ctx, cursor, now=now)
            if isinstance(outcome, Done):
                return outcome, calls
            assert isinstance(outcome, Pending)
            cursor = outcome.cursor
            now += outcome.check_after
        raise AssertionError(f"{verb} did not finish in {limit} calls")

    async def service_data(self, client: UpstreamHttp, ctx: Mapping[str, Any]) -> dict[str, Any]:
        """Drive the provision flow; the service data it stores."""
        done, _ = await self.drive(client, "provision", ctx)
        service_data: dict[str, Any] = done.output["service_data"]
        return service_data
