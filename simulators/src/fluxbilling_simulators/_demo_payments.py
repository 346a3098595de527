"""The demo's payment gateways: one simulator, our checkout API, a customer who pays.

`DemoGateway.start` serves the chosen gateway's simulator on loopback (PayPal's in-process:
its certificate host is a test-only name no resolver knows), `settings` points the
installation at it, and `pay` plays the customer and the gateway: checkout through our API,
payment at the simulator, the gateway's signed (or ping-style) notifications to our webhook
endpoint over HTTP, exactly as in production.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from fluxbilling.server import LoopbackServer
from fluxbilling_simulators import coingate as coingate_sim
from fluxbilling_simulators import mollie as mollie_sim
from fluxbilling_simulators import paypal as paypal_sim
from fluxbilling_simulators import stripe as stripe_sim
from fluxbilling_simulators._coingate_state import CoinGateState
from fluxbilling_simulators._mollie_state import MollieState
from fluxbilling_simulators._paypal_state import SIM_API_BASE, SIM_CERT_HOST, PayPalState
from fluxbilling_simulators._stripe_state import StripeState

__all__ = ["DEMO_GATEWAYS", "DemoGateway"]

DEMO_GATEWAYS: dict[str, str] = {
    "stripe": "Stripe Checkout",
    "mollie": "Mollie",
    "paypal": "PayPal",
    "coingate": "CoinGate",
}
"""Gateway → display name."""

_STRIPE_KEY = "sk_test_demo0key"  # the simulator's, not a real one
_MOLLIE_KEY = "test_demo0key0000000000000000"
_PAYPAL_ID, _PAYPAL_SECRET = "demo-client", "demo-secret"
_COINGATE_TOKEN = "demo-coingate-token"  # noqa: S105 - simulator token


@dataclass
class DemoGateway:
    """One gateway's simulator for the demo.

    Args:
        name: a key of `DEMO_GATEWAYS`.
        public_url: where the demo's API will listen (webhook and return URLs).
        stripe_secret: the installation's Stripe endpoint secret (Stripe signs with it).
    """

    name: str
    public_url: str
    stripe_secret: str = ""
    server: LoopbackServer | None = None
    stripe: StripeState = field(default_factory=StripeState)
    mollie: MollieState = field(default_factory=MollieState)
    coingate: CoinGateState = field(
        default_factory=lambda: CoinGateState(api_token=_COINGATE_TOKEN)
    )
    paypal: PayPalState = field(init=False)
    checkout_notifier: stripe_sim.StripeNotifier | None = None

    def __post_init__(self) -> None:
        self.paypal = PayPalState(
            client_id=_PAYPAL_ID,
            secret=_PAYPAL_SECRET,
            webhook_url=f"{self.public_url}/webhooks/paypal",
        )

    async def start(self) -> None:
        """Serve the simulator on loopback (PayPal: in-process, see the module docstring).

        Stripe's checkout page notifies us too: a customer who presses "pay" there (the
        console's "Open checkout") is paid by the signed webhook that follows, as in production.
        """
        if self.name == "stripe":
            self.checkout_notifier = stripe_sim.StripeNotifier(
                self.stripe, f"{self.public_url}/webhooks/stripe", self.stripe_secret
            )
        apps = {
            "stripe": lambda: stripe_sim.create_app(self.stripe, self.checkout_notifier),
            "mollie": lambda: mollie_sim.create_app(self.mollie),
            "coingate": lambda: coingate_sim.create_app(self.coingate),
        }
        if self.name in apps:
            self.server = LoopbackServer(apps[self.name]())
            await self.server.start()

    async def stop(self) -> None:
        """Stop serving."""
        if self.server is not None:
            await self.server.stop()

    def sign_with(self, stripe_secret: str) -> None:
        """Stripe signs its webhooks with the installation's endpoint secret (known once it is built)."""
        self.stripe_secret = stripe_secret
        if self.checkout_notifier is not None:
            self.checkout_notifier.secret = stripe_secret

    @property
    def url(self) -> str:
        """Where the simulator answers."""
        return self.server.url if self.server is not None else SIM_API_BASE

    def settings(self) -> dict[str, Any]:
        """Settings that point the installation at this simulator."""
        common: dict[str, Any] = {"public_url": self.public_url}
        if self.name == "stripe":
            return common | {"stripe_api_key": _STRIPE_KEY, "stripe_api_url": self.url}
        if self.name == "mollie":
            return common | {"mollie_api_key": _MOLLIE_KEY, "mollie_api_url": self.url}
        if self.name == "coingate":
            return common | {
                "coingate_api_token": _COINGATE_TOKEN,
                "coingate_api_url": f"{self.url}/v2/",
                "coingate_sandbox": True,
            }
        return common | {
            "paypal_client_id": _PAYPAL_ID,
            "paypal_client_secret": _PAYPAL_SECRET,
            "paypal_webhook_id": self.paypal.webhook_id,
            "paypal_api_url": SIM_API_BASE,
            "paypal_extra_cert_hosts": SIM_CERT_HOST,
        }

    def transport_for(self) -> Callable[[str], httpx.AsyncBaseTransport | None]:
        """PayPal's API and certificate host answered in-process; everything else by HTTP."""
        paypal = httpx.ASGITransport(app=paypal_sim.create_app(self.paypal))
        hosts = {httpx.URL(SIM_API_BASE).host, SIM_CERT_HOST}

        def transport(url: str) -> httpx.AsyncBaseTransport | None:
            return paypal if url and httpx.URL(url).host in hosts else None

        return transport

    async def pay(self, ref: str) -> list[str]:
        """The customer pays attempt `ref`; the gateway notifies us. One line per delivery."""
        async with httpx.AsyncClient(timeout=20.0) as client:
            if self.name == "stripe":
                self.stripe.pay(ref)
                url = f"{self.public_url}/webhooks/stripe"
                notifier = stripe_sim.StripeNotifier(
                    self.stripe, url, self.stripe_secret, client=client
                )
                sent = await notifier.deliver_all()
                return [f"{a.event_type} → {a.http_status}" for a in sent]
            if self.name == "mollie":
                self.mollie.pay(ref)
                deliveries = await mollie_sim.MollieNotifier(self.mollie, client).flush()
                return [f"id={d.notification.payment_id} → {d.status}" for d in deliveries]
            if self.name == "coingate":
                order = int(ref)
                self.coingate.choose_currency(order)
                self.coingate.pay(order)
                self.coingate.confirm(order)
                attempts = await coingate_sim.Notifier(self.coingate, client).deliver_all()
                return [f"{a.order_status} → {a.http_status}" for a in attempts]
            self.paypal.approve(ref)
            lines: list[str] = []
            for _ in range(3):  # the approval's handling captures, which notifies again
                transmissions = await paypal_sim.Notifier(self.paypal, client).deliver_all()
                events = self.paypal.notifications
                lines += [f"{events[t.event_id].event_type} → {t.status}" for t in transmissions]
                if not transmissions:
                    break
            return lines
