"""FlowDriver: a plugin version behind the Driver protocol, against a fake upstream."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from fluxbilling import errors, plugins
from fluxbilling.drivers import driver as drivers
from fluxbilling.drivers.outcome import Done, Failed, Failure, Pending
from fluxbilling.drivers.registry import DriverRegistry
from fluxbilling.drivers.upstream import ExchangeRecorder, UpstreamHttp
from fluxbilling.plugins.driver import FlowDriver, FlowDrivers

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 1, 1, tzinfo=UTC)


class Panel:
    """The upstream: creates server 99, refuses `fail`, answers jobs from `states`; keeps requests."""

    def __init__(self, *states: str) -> None:
        self.states = list(states)
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.path == "/api/servers":
            return httpx.Response(201, json={"data": {"id": 99}})
        if request.url.path == "/api/fail":
            return httpx.Response(422, json={"error": "no such plan"})
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return httpx.Response(200, json={"data": {"state": state}})


class Connections:
    """One client per name, over the panel; keeps the names asked for and closes nothing."""

    def __init__(self, panel: Panel) -> None:
        self.panel = panel
        self.asked: list[str] = []

    async def client(self, name: str, recorder: ExchangeRecorder) -> UpstreamHttp:
        self.asked.append(name)
        return UpstreamHttp(
            name, "https://acme.test/api/", transport=httpx.MockTransport(self.panel)
        )


def document(**header: Any) -> dict[str, Any]:
    return {
        "format": "fluxbilling-visual-plugin",
        "plugin": {
            "slug": "acme",
            "type": "infrastructure-provider",
            "serviceType": "vps",
            "connectionType": "http",
            "capabilities": {"canProvision": True, "canSuspend": True, "canGetStats": True},
            "settings": {"type": "object", "required": ["plan_id"]},
            **header,
        },
        "flows": {
            "provision": {
                "nodes": [
                    {"id": "start", "type": "trigger"},
                    {"id": "create", "type": "http", "method": "POST", "path": "servers"},
                    {
                        "id": "wait",
                        "type": "poll",
                        "path": "jobs/5",
                        "interval": 30,
                        "timeout": 600,
                        "until": [{"path": "data.state", "equals": "ready"}],
                    },
                    {
                        "id": "keep",
                        "type": "set_service_data",
                        "data": {"id": "{{create.data.id}}"},
                    },
                ]
            },
            "suspend": {
                "nodes": [
                    {"id": "start", "type": "trigger"},
                    {"id": "refuse", "type": "http", "method": "POST", "path": "fail"},
                ]
            },
            "reinstall": {"nodes": [{"id": "start", "type": "trigger"}]},
        },
    }


def flow_driver(panel: Panel, **header: Any) -> tuple[FlowDriver, Connections]:
    connections = Connections(panel)
    loaded = plugins.load_plugin(document(**header), version=4, strict=False)
    return FlowDriver(loaded, connections), connections


def operation(verb: drivers.Verb, cursor: Any = None, **extra: Any) -> drivers.Operation:
    return drivers.Operation(
        verb=verb,
        correlation_key="7:provision",
        context={"order": {"id": 7}, "settings": {"plan_id": 3}, **extra},
        connection="acme-main",
        cursor=cursor,
        now=NOW,
    )


def test_capabilities_are_what_the_plugin_declares_and_verbs_what_it_has_flows_for() -> None:
    driver, _ = flow_driver(Panel("ready"), capabilities={"canSuspend": True})
    assert (driver.slug, driver.version) == ("acme", 4)
    assert driver.capabilities == {"canSuspend"}
    assert driver.verbs == {"provision", "suspend", "reinstall"}
    assert driver.os_install == "reinstall"
    assert driver.connection_type == "http"


def test_validate_checks_the_settings_schema() -> None:
    driver, _ = flow_driver(Panel("ready"))
    driver.validate({"plan_id": 3}, "vps-2g")
    with pytest.raises(errors.InvalidSettings, match="'plan_id' is a required property"):
        driver.validate({}, "vps-2g")


async def test_a_verb_runs_its_flow_and_resumes_from_the_cursor() -> None:
    panel = Panel("busy", "ready")
    driver, connections = flow_driver(panel)
    first = await drivers.call(driver, operation(drivers.Verb.PROVISION))
    assert isinstance(first, Pending)
    assert first.check_after == timedelta(seconds=30)
    assert panel.seen[0].headers["X-Correlation-Id"] == "7:provision"
    second = await drivers.call(driver, operation(drivers.Verb.PROVISION, first.cursor))
    assert isinstance(second, Done)
    assert second.output["service_data"] == {"id": 99}
    assert connections.asked == ["acme-main", "acme-main"]


async def test_a_flow_error_comes_back_failed_and_classified() -> None:
    driver, _ = flow_driver(Panel("ready"))
    outcome = await drivers.call(driver, operation(drivers.Verb.SUSPEND))
    assert isinstance(outcome, Failed)
    assert isinstance(outcome.error, errors.PermanentUpstreamError)
    assert outcome.failure == Failure.PERMANENT


async def test_a_missing_connection_is_a_settings_failure() -> None:
    class NoConnections:
        async def client(self, name: str, recorder: ExchangeRecorder) -> UpstreamHttp:
            raise errors.InvalidSettings(f"no connection named {name!r}")

    loaded = plugins.load_plugin(document(), version=4, strict=False)
    outcome = await FlowDriver(loaded, NoConnections()).run(operation(drivers.Verb.REINSTALL))
    assert isinstance(outcome, Failed)
    assert outcome.failure == Failure.INVALID


async def test_a_verb_without_a_flow_is_refused_before_the_flow_runs() -> None:
    panel = Panel("ready")
    driver, connections = flow_driver(panel)
    with pytest.raises(errors.InvalidFlow, match=r"acme@4 has no 'stats' flow"):
        await drivers.call(driver, operation(drivers.Verb.STATS))
    assert (connections.asked, panel.seen) == ([], [])


class Manager:
    """Stored plugin versions, as `PluginManager` answers them."""

    def __init__(self) -> None:
        self.loaded = {v: plugins.load_plugin(document(), version=v, strict=False) for v in (1, 2)}

    async def latest_version(self, slug: str) -> int:
        return max(self.loaded)

    async def get(self, slug: str, version: int | None = None) -> plugins.LoadedPlugin:
        return self.loaded[version or max(self.loaded)]


async def test_the_registry_finds_visual_plugins_by_slug_and_version() -> None:
    registry = DriverRegistry(FlowDrivers(Manager(), Connections(Panel("ready"))))
    assert await registry.latest_version("acme") == 2
    assert (await registry.get("acme")).version == 2
    assert (await registry.get("acme", 1)).version == 1
