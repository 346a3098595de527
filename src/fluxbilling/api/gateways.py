"""Payment gateways: which ones this installation is configured for (names only, no secrets)."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import Field

from fluxbilling.api.auth import require_token
from fluxbilling.api.rows import Row

__all__ = ["GatewayOut", "router"]

router = APIRouter(
    prefix="/api/v1/gateways", tags=["billing"], dependencies=[Depends(require_token)]
)

_DISPLAY_NAMES = {
    "stripe": "Stripe",
    "mollie": "Mollie",
    "paypal": "PayPal",
    "coingate": "CoinGate",
}


class GatewayOut(Row):
    """A configured payment gateway: what `POST /invoices/{id}/checkout` accepts as `gateway`."""

    name: str = Field(examples=["stripe"])
    display_name: str = Field(examples=["Stripe"])
    livemode: bool = Field(description="false: a test (sandbox) account; no real money moves")


@router.get("", summary="The payment gateways this installation is configured for")
async def list_gateways(request: Request) -> list[GatewayOut]:
    """Sorted by name. Credentials and webhook secrets are never part of the answer."""
    gateways = request.app.state.installation.gateways
    return [
        GatewayOut(
            name=name,
            display_name=_DISPLAY_NAMES.get(name, name.capitalize()),
            livemode=gateways[name].livemode,
        )
        for name in sorted(gateways)
    ]
