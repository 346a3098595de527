"""The interpreter's tracing seam: an observer hears each node start and finish, errors included."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from fluxbilling import errors, plugins
from fluxbilling.drivers.upstream import UpstreamHttp
from fluxbilling.engine.outcome import Done, Pending
from fluxbilling.plugins.trace import NO_OBSERVER, NodeFinished, NodeStarted

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 1, 1, tzinfo=UTC)
CONTEXT = {"order": {"hostname": "vps-1"}, "correlation_id": "order-1-provision"}


class Recording:
    """A `FlowObserver` that keeps every event."""

    def __init__(self) -> None:
        self.events: list[NodeStarted | NodeFinished] = []

    def node_started(self, event: NodeStarted) -> None:
        self.events.append(event)

    def node_finished(self, event: NodeFinished) -> None:
        self.events.append(event)


class Vendor:
    def __init__(self) -> None:
        self.answers: dict[tuple[str, str], httpx.Response] = {}

    def __call__(self, request: httpx.Request) -> httpx.Response:
        return self.answers[(request.method, request.url.path)]


@pytest.fixture
def vendor() -> Vendor:
    return Vendor()


@pytest.fixture
async def http(vendor: Vendor) -> AsyncIterator[Callable[[str], UpstreamHttp]]:
    client = UpstreamHttp("acme", "https://acme.test/api/", transport=httpx.MockTransport(vendor))
    yield lambda name: client
    await client.aclose()


def loaded(*nodes: dict[str, Any]) -> plugins.LoadedPlugin:
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


CREATE = {"id": "create", "type": "http", "method": "POST", "path": "servers", "label": "Create"}
PERSIST = {"id": "persist", "type": "set_service_data", "data": {"external_id": "{{create.id}}"}}


async def test_each_node_reports_its_input_output_and_port(
    vendor: Vendor, http: Callable[[str], UpstreamHttp]
) -> None:
    vendor.answers[("POST", "/api/servers")] = httpx.Response(201, json={"id": 7})
    observer = Recording()

    outcome = await plugins.run_flow(
        loaded(CREATE, PERSIST), "provision", CONTEXT, http, None, now=NOW, observer=observer
    )

    assert isinstance(outcome, Done)
    start = {"correlation_id": "order-1-provision"}
    assert observer.events == [
        NodeStarted("start", "trigger", None, None, resumed=False),
        NodeFinished("start", "trigger", "ok", output=start),
        NodeStarted("create", "http", "Create", start, resumed=False),
        NodeFinished("create", "http", "ok", output={"id": 7}),
        NodeStarted("persist", "set_service_data", None, {"id": 7}, resumed=False),
        NodeFinished(
            "persist",
            "set_service_data",
            "ok",
            output={"external_id": 7},
            service_data={"external_id": 7},
        ),
    ]


async def test_a_failing_node_reports_its_error_which_still_propagates(
    vendor: Vendor, http: Callable[[str], UpstreamHttp]
) -> None:
    vendor.answers[("POST", "/api/servers")] = httpx.Response(403, json={"error": "no"})
    observer = Recording()

    with pytest.raises(errors.PermanentUpstreamError):
        await plugins.run_flow(
            loaded(CREATE), "provision", CONTEXT, http, None, now=NOW, observer=observer
        )

    finished = observer.events[-1]
    assert isinstance(finished, NodeFinished)
    assert (finished.node, finished.port, finished.output) == ("create", None, None)
    assert finished.error is not None
    assert (finished.error["code"], finished.error["status"]) == ("PermanentUpstreamError", 403)


async def test_a_waiting_node_reports_its_wait_and_is_resumed(
    vendor: Vendor, http: Callable[[str], UpstreamHttp]
) -> None:
    vendor.answers[("GET", "/api/jobs/1")] = httpx.Response(200, json={"state": "busy"})
    poll = {
        "id": "job",
        "type": "poll",
        "path": "jobs/1",
        "interval": 5,
        "until": [{"path": "state", "equals": "ready"}],
    }
    flow = loaded(poll)
    first = Recording()
    paused = await plugins.run_flow(flow, "provision", CONTEXT, http, None, now=NOW, observer=first)
    assert isinstance(paused, Pending)
    assert first.events[-1] == NodeFinished("job", "poll", None, wait=5.0)

    vendor.answers[("GET", "/api/jobs/1")] = httpx.Response(200, json={"state": "ready"})
    second = Recording()
    done = await plugins.run_flow(
        flow, "provision", CONTEXT, http, paused.cursor, now=NOW, observer=second
    )
    assert isinstance(done, Done)
    assert second.events == [
        NodeStarted("job", "poll", None, {"correlation_id": "order-1-provision"}, resumed=True),
        NodeFinished("job", "poll", "ok", output={"state": "ready"}),
    ]


async def test_the_default_observer_changes_nothing(
    vendor: Vendor, http: Callable[[str], UpstreamHttp]
) -> None:
    vendor.answers[("POST", "/api/servers")] = httpx.Response(201, json={"id": 7})
    flow = loaded(CREATE, PERSIST)
    plain = await plugins.run_flow(flow, "provision", CONTEXT, http, None, now=NOW)
    traced = await plugins.run_flow(
        flow, "provision", CONTEXT, http, None, now=NOW, observer=Recording()
    )
    explicit = await plugins.run_flow(
        flow, "provision", CONTEXT, http, None, now=NOW, observer=NO_OBSERVER
    )
    assert plain == traced == explicit
