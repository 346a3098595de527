"""All four panel simulators behind one ASGI app, for the demo and `fluxbilling simulators`.

| provider    | mounted at      | base URL of its connection      |
|-------------|-----------------|---------------------------------|
| solusvm2    | `/solusvm2`     | `<root>/solusvm2/api/v1`        |
| virtualizor | `/virtualizor`  | `<root>/virtualizor/`           |
| pterodactyl | `/pterodactyl`  | `<root>/pterodactyl/api/`       |
| whm         | `/whm`          | `<root>/whm/json-api/`          |

Each keeps its own state (and `/_sim/state` under its prefix) and its own credentials: the
defaults of `seed.PROVIDERS`, and `solusvm2_token` for SolusVM 2.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.applications import Starlette
from starlette.routing import Mount
from starlette.types import ASGIApp

from fluxbilling_simulators import pterodactyl, solusvm2, virtualizor, whm

__all__ = ["PATHS", "PanelStates", "base_url", "create_app"]

PATHS = {
    "solusvm2": "solusvm2/api/v1",
    "virtualizor": "virtualizor/",
    "pterodactyl": "pterodactyl/api/",
    "whm": "whm/json-api/",
}


@dataclass
class PanelStates:
    """The state of each simulated panel."""

    solusvm2: solusvm2.SolusVM2State = field(default_factory=solusvm2.SolusVM2State)
    virtualizor: virtualizor.VirtualizorState = field(default_factory=virtualizor.VirtualizorState)
    pterodactyl: pterodactyl.PterodactylState = field(default_factory=pterodactyl.PterodactylState)
    whm: whm.WhmState = field(default_factory=whm.WhmState)

    def upstream_objects(self, provider: str) -> int:
        """How many services the panel of `provider` holds (servers, VPSes or accounts)."""
        counts = {
            "solusvm2": len(self.solusvm2.servers),
            "virtualizor": len(self.virtualizor.vps),
            "pterodactyl": len(self.pterodactyl.servers),
            "whm": len(self.whm.accounts),
        }
        return counts[provider]


def base_url(provider: str, root: str) -> str:
    """The connection base URL of `provider` when the combined app is served at `root`."""
    return f"{root.rstrip('/')}/{PATHS[provider]}"


def create_app(states: PanelStates) -> ASGIApp:
    """One app serving every panel under its prefix."""
    return Starlette(
        routes=[
            Mount("/solusvm2", app=solusvm2.create_app(states.solusvm2)),
            Mount("/virtualizor", app=virtualizor.create_app(states.virtualizor)),
            Mount("/pterodactyl", app=pterodactyl.create_app(states.pterodactyl)),
            Mount("/whm", app=whm.create_app(states.whm)),
        ]
    )
