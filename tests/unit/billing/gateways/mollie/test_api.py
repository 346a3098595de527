"""`gateways.mollie.api.MollieApi` against the simulator (in-process)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import httpx
import pytest

from fluxbilling import errors
from fluxbilling.billing.facts import PaymentFact
from fluxbilling.billing.gateways.mollie import checkout as mollie_checkout
from fluxbilling.billing.gateways.mollie import events as mollie_events
from fluxbilling.billing.gateways.mollie.api import MollieApi
from fluxbilling.drivers.upstream import Credential, UpstreamHttp
from fluxbilling_simulators import mollie as mollie_sim
from fluxbilling_simulators._faults import Faults

# --- MollieApi against the simulator --------------------------------------------------


API_KEY = "test_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM"


@pytest.fixture
def sim() -> mollie_sim.MollieState:
    return mollie_sim.MollieState(faults=Faults(timeout_delay=0.01), seed=3)


@pytest.fixture
async def api(sim: mollie_sim.MollieState) -> AsyncIterator[MollieApi]:
    http = UpstreamHttp(
        "mollie",
        "https://api.mollie.test",
        transport=httpx.ASGITransport(app=mollie_sim.create_app(sim)),
        secrets=[API_KEY],
        credentials={None: Credential(headers={"Authorization": f"Bearer {API_KEY}"})},
    )
    yield MollieApi(http)
    await http.aclose()


def body() -> dict[str, Any]:
    return mollie_checkout.checkout_request(
        42, 1000, "EUR", "Invoice 42", "https://shop.test/r", "https://shop.test/w"
    )


@pytest.mark.anyio
async def test_create_fetch_and_classify_round_trip(
    api: MollieApi, sim: mollie_sim.MollieState
) -> None:
    created = await api.create_payment(body(), "invoice-42-attempt-1")
    assert created["status"] == "open"
    assert created["_links"]["checkout"]["href"].startswith("https://api.mollie.test/checkout/")
    sim.pay(created["id"])
    sim.refund(created["id"], 400)
    fetched = await api.get_payment(created["id"])
    assert fetched is not None
    refund_id = fetched["_embedded"]["refunds"][0]["id"]
    paid = PaymentFact(
        kind="paid",
        gateway_payment_id=created["id"],
        invoice_ref="42",
        amount_minor=1000,
        currency="EUR",
        livemode=False,
        gateway_object_id=created["id"],
    )
    refund = replace(paid, kind="refund", amount_minor=400, gateway_object_id=refund_id)
    assert mollie_events.classify(fetched) == [paid, refund]


@pytest.mark.anyio
async def test_retrying_a_create_with_the_same_key_returns_the_same_payment(
    api: MollieApi, sim: mollie_sim.MollieState
) -> None:
    sim.faults.crash_next_create()
    with pytest.raises(errors.TransientUpstreamError):
        await api.create_payment(body(), "invoice-42-attempt-1")
    again = await api.create_payment(body(), "invoice-42-attempt-1")
    assert list(sim.payments) == [again["id"]]


@pytest.mark.anyio
async def test_unknown_payment_is_none(api: MollieApi) -> None:
    assert await api.get_payment("tr_doesnotexist") is None


@pytest.mark.anyio
async def test_not_a_payment_id_is_our_bug(api: MollieApi) -> None:
    with pytest.raises(errors.InvariantViolation):
        await api.get_payment("../customers")
    with pytest.raises(errors.InvariantViolation):
        await api.create_payment(body(), "")


@pytest.mark.anyio
async def test_upstream_failures_are_classified(
    api: MollieApi, sim: mollie_sim.MollieState
) -> None:
    sim.faults.fail_next(1, 503)
    with pytest.raises(errors.TransientUpstreamError):
        await api.get_payment("tr_doesnotexist")
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await api.create_payment({**body(), "description": ""}, "k-2")
    assert info.value.status == 422
    assert "The description is required." in info.value.message


@pytest.mark.anyio
async def test_a_bad_key_is_permanent_and_redacted(sim: mollie_sim.MollieState) -> None:
    key = "live_notavalidkeyforthisaccount"
    http = UpstreamHttp(
        "mollie",
        "https://api.mollie.test",
        transport=httpx.ASGITransport(app=mollie_sim.create_app(sim)),
        secrets=[key],
        credentials={None: Credential(headers={"Authorization": f"Bearer {key}"})},
    )
    sim.api_keys = frozenset({API_KEY})
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await MollieApi(http).get_payment("tr_abc")
    assert info.value.status == 401
    assert key not in json.dumps(http.recorder.last.to_dict() if http.recorder.last else {})
    await http.aclose()


@pytest.mark.anyio
@pytest.mark.parametrize("content", [b"<html>oops</html>", b"[1]"])
async def test_a_success_that_is_not_a_json_object_is_permanent(content: bytes) -> None:
    http = UpstreamHttp(
        "mollie",
        "https://api.mollie.test",
        transport=httpx.MockTransport(lambda request: httpx.Response(200, content=content)),
    )
    with pytest.raises(errors.PermanentUpstreamError, match=r"answered 200 without a JSON object$"):
        await MollieApi(http).get_payment("tr_abc")
    await http.aclose()


@pytest.mark.anyio
async def test_requests_are_what_mollie_expects() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = 201 if request.method == "POST" else 200
        return httpx.Response(status, json={"resource": "payment", "id": "tr_x"})

    http = UpstreamHttp("mollie", "https://api.mollie.test", transport=httpx.MockTransport(handler))
    await MollieApi(http).create_payment(body(), "key-1")
    await MollieApi(http).get_payment("tr_x")
    await http.aclose()
    create, get = seen
    assert (create.method, create.url.path) == ("POST", "/v2/payments")
    assert create.headers["Idempotency-Key"] == "key-1"
    assert json.loads(create.content) == body()
    assert (get.method, get.url.path) == ("GET", "/v2/payments/tr_x")
    assert get.url.params["embed"] == "refunds,chargebacks"
