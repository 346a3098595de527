"""The demo's Stripe checkout page: a customer who pays there is announced by a signed webhook.

The console's "Open checkout" sends the operator (or the customer) to that page; without the
webhook the invoice would stay open however the customer paid.
"""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from fluxbilling.billing.gateways.stripe.verify import verify_signature
from fluxbilling.server import LoopbackServer
from fluxbilling_simulators._demo_payments import DemoGateway

pytestmark = [pytest.mark.anyio, pytest.mark.acceptance]

SECRET = "whsec_demo_checkout_page"


@pytest.mark.parametrize("action", ["pay", "cancel"])
async def test_the_checkout_page_notifies_only_a_payment_signed_with_the_installations_secret(
    action: str,
) -> None:
    received: list[tuple[bytes, str | None]] = []
    arrived = asyncio.Event()

    async def webhook(request: Request) -> Response:
        body = await request.body()
        received.append((body, request.headers.get("stripe-signature")))
        if json.loads(body)["type"] == "checkout.session.completed":
            arrived.set()
        return Response(status_code=200)

    receiver = LoopbackServer(
        Starlette(routes=[Route("/webhooks/stripe", webhook, methods=["POST"])])
    )
    await receiver.start()
    gateway = DemoGateway("stripe", receiver.url)
    await gateway.start()
    gateway.sign_with(SECRET)
    try:
        session = gateway.stripe.create_session(
            {"success_url": "http://shop.test/ok", "cancel_url": "http://shop.test/no"},
            [{"unit_amount": 700, "quantity": 1, "currency": "eur"}],
            "test",
        )
        async with httpx.AsyncClient() as client:
            page = await client.post(
                f"{gateway.url}/c/pay/{session['id']}", data={"action": action}
            )
        assert page.status_code == 303
        if action == "cancel":
            assert page.headers["location"] == "http://shop.test/no"
            await asyncio.sleep(0.5)
            assert received == []
            return
        await asyncio.wait_for(arrived.wait(), timeout=10)
    finally:
        await gateway.stop()
        await receiver.stop()

    for body, signature in received:
        verify_signature(body, signature, [SECRET], now=gateway.stripe.now())
    completed = [json.loads(body) for body, _ in received]
    completed = [e for e in completed if e["type"] == "checkout.session.completed"]
    assert [e["data"]["object"]["id"] for e in completed] == [session["id"]]
