"""A test of a flow: traced through the production driver, redacted, bounded, stopped in time."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from fluxbilling import plugins
from fluxbilling.drivers.driver import Verb
from fluxbilling.drivers.upstream import Credential, ExchangeRecorder, UpstreamHttp
from fluxbilling.plugins import testrun
from fluxbilling.plugins.trace import NodeFinished, NodeStarted

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 1, 1, tzinfo=UTC)
API_KEY = "Acme-Api-Key-0042"
PASSWORD = "Root-Pw-Secret-77"


class Panel:
    """A fake panel that echoes what it is sent, after `delay` seconds."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.seen: list[httpx.Request] = []

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        await asyncio.sleep(self.delay)
        return httpx.Response(201, json={"id": 7, "echo": request.content.decode()})


class FakeConnections:
    """`Connections` over one fake panel whose API key is `API_KEY`."""

    def __init__(self, panel: Panel) -> None:
        self.panel = panel
        self.asked: list[str] = []

    async def client(self, name: str, recorder: ExchangeRecorder) -> UpstreamHttp:
        self.asked.append(name)
        return UpstreamHttp(
            name,
            "https://acme.test/api/",
            secrets=[API_KEY],
            transport=httpx.MockTransport(self.panel),
            recorder=recorder,
            credentials={None: Credential(headers={"X-Key": API_KEY})},
        )


def acme(*nodes: dict[str, Any]) -> plugins.LoadedPlugin:
    return plugins.load_plugin(
        {
            "format": "fluxbilling-visual-plugin",
            "plugin": {
                "slug": "acme",
                "type": "infrastructure-provider",
                "serviceType": "vps",
                "connectionType": "http",
                "capabilities": {"canProvision": True},
            },
            "flows": {"provision": {"nodes": [{"id": "start", "type": "trigger"}, *nodes]}},
        },
        version=1,
    )


CREATE = {
    "id": "create",
    "type": "http",
    "method": "POST",
    "path": "servers",
    "body": {"name": "{{order.hostname}}", "password": "{{credentials.password}}"},
}
PERSIST = {"id": "persist", "type": "set_service_data", "data": {"external_id": "{{create.id}}"}}


def trial(plugin: plugins.LoadedPlugin) -> testrun.TestRun:
    return testrun.TestRun(
        plugin=plugin,
        verb=Verb.PROVISION,
        connection="acme",
        context={"order": {"hostname": "t1"}, "credentials": {"password": PASSWORD}},
        correlation_key="test-1:provision",
        now=NOW,
        secrets=(PASSWORD,),
    )


async def test_a_done_flow_is_traced_with_its_exchanges_and_no_secret() -> None:
    panel = Panel()
    result = await testrun.run_test(
        trial(acme(CREATE, PERSIST)), FakeConnections(panel), allowed=["acme"]
    )

    assert result.status is testrun.TestStatus.DONE
    assert [(s.index, s.node, s.port) for s in result.steps] == [
        (0, "start", "ok"),
        (1, "create", "ok"),
        (2, "persist", "ok"),
    ]
    create = result.steps[1]
    [exchange] = create.exchanges
    assert exchange["request"]["headers"]["X-Key"] == "***"
    assert exchange["request"]["body"]["password"] == "***"
    assert PASSWORD not in str(create.output) and API_KEY not in str(result)
    assert panel.seen[0].headers["X-Correlation-Id"] == "test-1:provision"
    assert result.service_data == {"external_id": 7}
    assert result.result == {"external_id": 7}


async def test_a_connection_not_allowed_is_never_reached() -> None:
    connections = FakeConnections(Panel())
    result = await testrun.run_test(trial(acme(CREATE)), connections, allowed=["other"])
    assert result.status is testrun.TestStatus.FAILED
    assert result.error is not None and "may not use connection 'acme'" in result.error["message"]
    assert connections.panel.seen == [] and result.steps == ()


async def test_a_slow_flow_stops_at_its_time_budget_with_the_node_it_was_in() -> None:
    result = await testrun.run_test(
        trial(acme(CREATE)), FakeConnections(Panel(delay=5)), allowed=["acme"], seconds=0.05
    )
    assert result.status is testrun.TestStatus.FAILED
    assert result.error is not None and "time budget" in result.error["message"]
    assert [(s.node, s.port) for s in result.steps] == [("start", "ok"), ("create", None)]
    assert result.steps[-1].error == result.error


class BrokenConnections:
    """`Connections` with a bug: it raises what no boundary classified."""

    async def client(self, name: str, recorder: ExchangeRecorder) -> UpstreamHttp:
        raise RuntimeError("a bug")


async def test_an_unexpected_exception_is_a_failed_test_not_a_crash(
    caplog: pytest.LogCaptureFixture,
) -> None:
    result = await testrun.run_test(trial(acme(CREATE)), BrokenConnections(), allowed=["acme"])
    assert result.status is testrun.TestStatus.FAILED
    assert result.error is not None
    assert result.error["code"] == "InvariantViolation"
    assert "RuntimeError" in result.error["message"]
    assert "unexpected RuntimeError" in caplog.text


def test_the_tracer_bounds_each_value_and_the_whole_trace() -> None:
    log = testrun.ExchangeLog()
    ticks = iter([0.0, 0.25, 1.0, 1.5])
    tracer = testrun.Tracer(
        lambda value: value, log, clock=lambda: next(ticks), max_bytes=2 * testrun.VALUE_BYTES
    )
    big = "x" * (testrun.VALUE_BYTES + 10)
    tracer.node_started(NodeStarted("a", "map", None, None, resumed=False))
    tracer.node_finished(NodeFinished("a", "map", "ok", output=big))
    tracer.node_started(NodeStarted("b", "map", None, "small", resumed=False))
    tracer.node_finished(NodeFinished("b", "map", "ok", output="y" * testrun.VALUE_BYTES))
    first, second = tracer.steps
    assert first.output["truncated"] is True and first.output["bytes"] == len(big) + 2
    assert first.elapsed_ms == 250.0 and second.elapsed_ms == 500.0
    assert second.input == "small"
    assert second.output["truncated"] is True  # within its own limit, past what the trace has left
    assert tracer.truncated
