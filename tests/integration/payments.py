"""The four payment gateway simulators for integration tests, and one driver per gateway.

Every driver offers the same verbs over its simulator, so one scenario runs against every
gateway: the customer `pay`s an attempt, the gateway's notifications are delivered to our
API (`notify`, in order or reversed), `capture`d instead of sent (to replay them, e.g. 50
times at once), or lost (`drop`); the merchant `refund`s; the customer disputes
(`chargeback`); an attempt `expire`s. The simulators sign exactly like the gateways, and
our webhook URLs point at the installation's in-process API (``http://api.test``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa
from starlette.types import ASGIApp

from fluxbilling import bootstrap
from fluxbilling.db import schema
from fluxbilling_simulators import coingate as coingate_sim
from fluxbilling_simulators import mollie as mollie_sim
from fluxbilling_simulators import paypal as paypal_sim
from fluxbilling_simulators import stripe as stripe_sim
from fluxbilling_simulators._coingate_state import CoinGateState
from fluxbilling_simulators._mollie_state import MollieState
from fluxbilling_simulators._paypal_state import SIM_API_BASE, SIM_CERT_HOST, PayPalState
from fluxbilling_simulators._stripe_state import StripeState
from tests.integration.support import place_order, rows

__all__ = [
    "GATEWAYS",
    "PAID",
    "PUBLIC_URL",
    "UNPAID",
    "Driver",
    "PaymentSims",
    "Request",
    "checkout_order",
    "deliveries",
    "driver_for",
    "ledger_state",
    "start_checkout",
]

PUBLIC_URL = "http://api.test"
GATEWAYS = ("stripe", "mollie", "paypal", "coingate")
STRIPE_KEY = "sk_test_integration0key"
STRIPE_WEBHOOK_SECRET = "whsec_test_secret"  # the installation fixture's endpoint secret
MOLLIE_KEY = "test_integration0key0000000000"
PAYPAL_ID, PAYPAL_SECRET = "it-paypal-client", "it-paypal-secret"
COINGATE_TOKEN = "it-coingate-token"
UNPAID = {
    "order": "awaiting_payment",
    "invoice": "unpaid",
    "payments": 0,
    "reversals": [],
    "runs": 0,
}
"""`ledger_state` of an order nothing was applied to."""
PAID = {
    "order": "provisioning_pending",
    "invoice": "paid",
    "payments": 1,
    "reversals": [],
    "runs": 1,
}
"""`ledger_state` of an order paid once: one payment, one provisioning run."""
URLS = {
    "stripe": "http://stripe.test",
    "mollie": "http://mollie.test",
    "paypal": SIM_API_BASE,
    "coingate": "http://coingate.test/v2/",
}


@dataclass
class PaymentSims:
    """The simulated gateways of one test."""

    paypal_key: rsa.RSAPrivateKey
    stripe: StripeState = field(default_factory=lambda: StripeState(seed=3))
    mollie: MollieState = field(default_factory=lambda: MollieState(seed=3))
    coingate: CoinGateState = field(
        default_factory=lambda: CoinGateState(api_token=COINGATE_TOKEN, seed=3)
    )
    paypal: PayPalState = field(init=False)

    def __post_init__(self) -> None:
        self.paypal = PayPalState(
            client_id=PAYPAL_ID,
            secret=PAYPAL_SECRET,
            key=self.paypal_key,
            seed=3,
            webhook_url=f"{PUBLIC_URL}/webhooks/paypal",
        )

    def apps(self) -> dict[str, ASGIApp]:
        """Host name → the simulator answering it."""
        paypal = paypal_sim.create_app(self.paypal)
        return {
            "stripe.test": stripe_sim.create_app(self.stripe),
            "mollie.test": mollie_sim.create_app(self.mollie),
            httpx.URL(SIM_API_BASE).host: paypal,
            SIM_CERT_HOST: paypal,
            "coingate.test": coingate_sim.create_app(self.coingate),
        }

    def settings(self) -> dict[str, Any]:
        """The installation settings that point every gateway at its simulator."""
        return {
            "public_url": PUBLIC_URL,
            "stripe_api_key": STRIPE_KEY,
            "stripe_api_url": URLS["stripe"],
            "mollie_api_key": MOLLIE_KEY,
            "mollie_api_url": URLS["mollie"],
            "paypal_client_id": PAYPAL_ID,
            "paypal_client_secret": PAYPAL_SECRET,
            "paypal_webhook_id": self.paypal.webhook_id,
            "paypal_api_url": URLS["paypal"],
            "paypal_extra_cert_hosts": SIM_CERT_HOST,
            "coingate_api_token": COINGATE_TOKEN,
            "coingate_api_url": URLS["coingate"],
            "coingate_sandbox": True,
            "coingate_token_secret": "it-coingate-token-hmac-key",
        }


@dataclass(frozen=True)
class Request:
    """A notification as the gateway sent it (captured to be replayed)."""

    url: str
    body: bytes
    headers: list[tuple[str, str]]


class _Capture:
    """A client transport that records requests and answers 200 instead of delivering."""

    def __init__(self) -> None:
        self.requests: list[Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        headers = [(k, v) for k, v in request.headers.multi_items() if k.lower() != "host"]
        self.requests.append(Request(str(request.url), request.content, headers))
        return httpx.Response(200, json={"received": True})


class Driver:
    """One gateway's verbs; `client` reaches our API."""

    name: str

    def __init__(self, sims: PaymentSims, client: httpx.AsyncClient) -> None:
        self.sims = sims
        self.client = client
        self.statuses: list[int] = []

    # -- the customer and the merchant ---------------------------------------------------

    async def pay(self, ref: str) -> None:
        """The customer completes the payment of attempt `ref`."""
        raise NotImplementedError

    async def expire(self, ref: str) -> None:
        """Attempt `ref` ends without money (expired, canceled or reversed approval)."""
        raise NotImplementedError

    async def refund(self, ref: str, amount_minor: int | None = None) -> None:
        """The merchant refunds attempt `ref` (everything when `amount_minor` is None)."""
        raise NotImplementedError

    async def chargeback(self, ref: str) -> None:
        """The customer disputes the payment of attempt `ref` with their bank."""
        raise NotImplementedError

    # -- notifications -------------------------------------------------------------------

    async def _send_all(self, client: httpx.AsyncClient, *, reverse: bool) -> list[int]:
        raise NotImplementedError

    def drop(self) -> int:
        """Lose every queued notification; how many were lost."""
        raise NotImplementedError

    async def notify(self, *, reverse: bool = False, rounds: int = 3) -> list[int]:
        """Deliver queued notifications to our API, oldest first (or newest first); repeat
        while new ones appear (a capture triggered by a delivery queues the next)."""
        statuses: list[int] = []
        for _ in range(rounds):
            sent = await self._send_all(self.client, reverse=reverse)
            if not sent:
                break
            statuses += sent
        self.statuses += statuses
        return statuses

    async def capture(self) -> list[Request]:
        """Take the queued notifications without delivering them (the gateway saw 200)."""
        recorder = _Capture()
        async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
            await self._send_all(client, reverse=False)
        return recorder.requests

    async def replay(self, request: Request, times: int) -> list[httpx.Response]:
        """Deliver one captured notification `times` times concurrently."""

        async def once() -> httpx.Response:
            return await self.client.post(
                request.url, content=request.body, headers=request.headers
            )

        return list(await asyncio.gather(*(once() for _ in range(times))))


class StripeDriver(Driver):
    name = "stripe"

    def __init__(self, sims: PaymentSims, client: httpx.AsyncClient) -> None:
        super().__init__(sims, client)
        self.state = sims.stripe

    def _notifier(self, client: httpx.AsyncClient) -> stripe_sim.StripeNotifier:
        url = f"{PUBLIC_URL}/webhooks/stripe"
        return stripe_sim.StripeNotifier(self.state, url, STRIPE_WEBHOOK_SECRET, client=client)

    async def pay(self, ref: str) -> None:
        self.state.pay(ref)

    async def expire(self, ref: str) -> None:
        self.state.expire(ref)

    async def refund(self, ref: str, amount_minor: int | None = None) -> None:
        self.state.refund(ref, amount_minor)

    async def chargeback(self, ref: str) -> None:
        self.state.dispute(ref)

    async def _send_all(self, client: httpx.AsyncClient, *, reverse: bool) -> list[int]:
        if reverse:
            self.state.queue.reverse()
        attempts = await self._notifier(client).deliver_all()
        return [a.http_status or 0 for a in attempts]

    def drop(self) -> int:
        notifier = self._notifier(self.client)
        lost = [e.id for e in notifier.queued]
        for event_id in lost:
            notifier.drop(event_id)
        return len(lost)


class MollieDriver(Driver):
    name = "mollie"

    def __init__(self, sims: PaymentSims, client: httpx.AsyncClient) -> None:
        super().__init__(sims, client)
        self.state = sims.mollie
        self.notifier = mollie_sim.MollieNotifier(self.state, client)

    async def pay(self, ref: str) -> None:
        self.state.pay(ref)

    async def expire(self, ref: str) -> None:
        self.state.expire(ref)

    async def refund(self, ref: str, amount_minor: int | None = None) -> None:
        refund = self.state.refund(ref, amount_minor)
        self.state.set_refund_status(refund["id"], "refunded")

    async def chargeback(self, ref: str) -> None:
        self.state.chargeback(ref)

    async def _send_all(self, client: httpx.AsyncClient, *, reverse: bool) -> list[int]:
        self.notifier.collect()
        order = list(range(len(self.notifier.queue)))
        self.notifier.client = client
        try:
            deliveries = await self.notifier.flush(order[::-1] if reverse else order)
        finally:
            self.notifier.client = self.client
        return [d.status or 0 for d in deliveries]

    def drop(self) -> int:
        return len(self.notifier.drop())


class PayPalDriver(Driver):
    name = "paypal"

    def __init__(self, sims: PaymentSims, client: httpx.AsyncClient) -> None:
        super().__init__(sims, client)
        self.state = sims.paypal

    def _capture_id(self, order_id: str) -> str:
        order = self.state.order(order_id)
        captures = order["purchase_units"][0]["payments"]["captures"]
        return str(captures[-1]["id"])

    async def pay(self, ref: str) -> None:
        # The payer approves; our webhook handler captures (PayPal's two-step checkout).
        self.state.approve(ref)

    async def expire(self, ref: str) -> None:
        self.state.approve(ref)
        self.state.reverse_approval(ref)

    async def refund(self, ref: str, amount_minor: int | None = None) -> None:
        body: dict[str, Any] = {}
        if amount_minor is not None:
            order = self.state.order(ref)
            currency = order["purchase_units"][0]["amount"]["currency_code"]
            body["amount"] = {"currency_code": currency, "value": f"{amount_minor / 100:.2f}"}
        self.state.refund_capture(self._capture_id(ref), body)

    async def chargeback(self, ref: str) -> None:
        self.state.open_dispute(self._capture_id(ref))

    async def _send_all(self, client: httpx.AsyncClient, *, reverse: bool) -> list[int]:
        if reverse:
            self.state.outbox.reverse()
        sent = await paypal_sim.Notifier(self.state, client).deliver_all()
        return [t.status or 0 for t in sent]

    def drop(self) -> int:
        notifier = paypal_sim.Notifier(self.state, self.client)
        lost = notifier.pending
        for event_id in lost:
            notifier.drop(event_id)
        return len(lost)


class CoinGateDriver(Driver):
    name = "coingate"

    def __init__(self, sims: PaymentSims, client: httpx.AsyncClient) -> None:
        super().__init__(sims, client)
        self.state = sims.coingate

    async def pay(self, ref: str) -> None:
        order_id = int(ref)
        self.state.choose_currency(order_id)
        self.state.pay(order_id)
        self.state.confirm(order_id)

    async def expire(self, ref: str) -> None:
        self.state.expire(int(ref))

    async def refund(self, ref: str, amount_minor: int | None = None) -> None:
        amount = None if amount_minor is None else f"{amount_minor / 100:.2f}"
        self.state.refund(int(ref), amount)

    async def chargeback(self, ref: str) -> None:
        pytest.skip("crypto payments have no chargebacks")

    async def _send_all(self, client: httpx.AsyncClient, *, reverse: bool) -> list[int]:
        notifier = coingate_sim.Notifier(self.state, client)
        if reverse:
            notifier.reorder([c.id for c in notifier.queued][::-1])
        attempts = await notifier.deliver_all()
        return [a.http_status or 0 for a in attempts]

    def drop(self) -> int:
        notifier = coingate_sim.Notifier(self.state, self.client)
        lost = [c.id for c in notifier.queued]
        for callback_id in lost:
            notifier.drop(callback_id)
        return len(lost)


_DRIVERS: dict[str, Callable[[PaymentSims, httpx.AsyncClient], Driver]] = {
    "stripe": StripeDriver,
    "mollie": MollieDriver,
    "paypal": PayPalDriver,
    "coingate": CoinGateDriver,
}


def driver_for(name: str, sims: PaymentSims, client: httpx.AsyncClient) -> Driver:
    """The driver of gateway `name`."""
    return _DRIVERS[name](sims, client)


async def eventually(check: Callable[[], Awaitable[bool]], *, seconds: float = 10.0) -> None:
    """Wait until `check()` holds (a worker finishing in the background)."""
    deadline = asyncio.get_running_loop().time() + seconds
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


# -- checkout, ledger and deliveries as the operator API and the database show them ---------


async def start_checkout(api: httpx.AsyncClient, gateway: str, invoice_id: int) -> str:
    """Start a checkout at `gateway` through the API; the gateway object's id."""
    response = await api.post(f"/api/v1/invoices/{invoice_id}/checkout", json={"gateway": gateway})
    assert response.status_code == 201, response.text
    return str(response.json()["gateway_ref"])


async def checkout_order(
    inst: bootstrap.Installation, api: httpx.AsyncClient, gateway: str, hostname: str
) -> tuple[int, int, str]:
    """A new order with one checkout at `gateway`: (order id, invoice id, gateway ref)."""
    created = await place_order(inst, hostname)
    invoice_id = int(created["invoice"]["id"])
    ref = await start_checkout(api, gateway, invoice_id)
    return int(created["order"]["id"]), invoice_id, ref


async def ledger_state(inst: bootstrap.Installation, order_id: int) -> dict[str, Any]:
    """The order's state, its invoice's status, payments, reversals and provision runs.

    Reversals are ``(kind, amount_minor, full)``, sorted.
    """
    t = schema
    (order,) = await rows(inst, sa.select(t.orders).where(t.orders.c.id == order_id))
    (invoice,) = await rows(inst, sa.select(t.invoices).where(t.invoices.c.order_id == order_id))
    paid = await rows(inst, sa.select(t.payments).where(t.payments.c.invoice_id == invoice.id))
    reversals = await rows(
        inst, sa.select(t.money_reversals).where(t.money_reversals.c.invoice_id == invoice.id)
    )
    runs = await rows(
        inst,
        sa.select(t.runs).where(t.runs.c.order_id == order_id, t.runs.c.kind == "provision"),
    )
    return {
        "order": order.state,
        "invoice": invoice.status,
        "payments": len(paid),
        "reversals": sorted((r.kind, r.amount_minor, bool(r.full)) for r in reversals),
        "runs": len(runs),
    }


async def deliveries(api: httpx.AsyncClient, **filters: str | int) -> list[dict[str, Any]]:
    """`GET /api/v1/webhook-deliveries` (newest first) with these filters."""
    response = await api.get("/api/v1/webhook-deliveries", params={**filters, "limit": 500})
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
