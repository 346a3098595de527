"""Fault knobs over HTTP (`POST /_sim/faults`): a browser test breaks and mends a panel."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from fluxbilling_simulators import panels
from tests.httpsupport import asgi_client

pytestmark = pytest.mark.anyio


@pytest.fixture
def states() -> panels.PanelStates:
    return panels.PanelStates()


@pytest.fixture
async def sim(states: panels.PanelStates) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(panels.create_app(states), "http://sim") as client:
        yield client


async def plans(sim: httpx.AsyncClient) -> httpx.Response:
    return await sim.get("/solusvm2/api/v1/plans", headers={"Authorization": "Bearer sim-token"})


async def test_a_standing_failure_holds_until_cleared(
    sim: httpx.AsyncClient, states: panels.PanelStates
) -> None:
    answer = await sim.post("/solusvm2/_sim/faults", json={"fail_always": 422})
    assert answer.status_code == 200
    assert answer.json()["fail_always"] == 422
    assert [(await plans(sim)).status_code for _ in range(3)] == [422, 422, 422]
    assert states.virtualizor.faults.fail_always is None  # each panel has its own knobs
    cleared = await sim.post("/solusvm2/_sim/faults", json={"clear": True})
    assert cleared.json() == {"latency": 0.0, "fail_rate": 0.0, "fail_always": None, "forced": []}
    assert (await plans(sim)).status_code == 200


async def test_the_next_requests_fail_then_the_panel_recovers(sim: httpx.AsyncClient) -> None:
    answer = await sim.post("/solusvm2/_sim/faults", json={"fail_next": 2, "status": 500})
    assert answer.json()["forced"] == [500, 500]
    assert [(await plans(sim)).status_code for _ in range(3)] == [500, 500, 200]


@pytest.mark.parametrize("panel", ["virtualizor", "pterodactyl", "whm"])
async def test_every_panel_simulator_takes_the_knobs(
    sim: httpx.AsyncClient, states: panels.PanelStates, panel: str
) -> None:
    answer = await sim.post(f"/{panel}/_sim/faults", json={"latency": 0.25})
    assert answer.status_code == 200
    assert getattr(states, panel).faults.latency == 0.25


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"fail_always": 200}, "from 400 to 599"),
        ({"fail_always": True}, "from 400 to 599"),
        ({"fail_next": -1}, "fail_next"),
        ({"fail_next": 1, "status": "teapot"}, "from 400 to 599"),
        ({"latency": 99}, "latency"),
        ({"explode": 1}, "unknown fault knobs: explode"),
        ([1, 2], "JSON object"),
    ],
)
async def test_a_bad_knob_is_refused_and_changes_nothing(
    sim: httpx.AsyncClient, states: panels.PanelStates, body: Any, named: str
) -> None:
    answer = await sim.post("/solusvm2/_sim/faults", json=body)
    assert answer.status_code == 400
    assert named in answer.json()["error"]
    assert states.solusvm2.faults.describe()["fail_always"] is None
    assert (await plans(sim)).status_code == 200


async def test_a_body_that_is_not_json_is_refused(sim: httpx.AsyncClient) -> None:
    answer = await sim.post("/solusvm2/_sim/faults", content=b"{nope")
    assert answer.status_code == 400
