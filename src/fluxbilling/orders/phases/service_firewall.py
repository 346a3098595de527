"""The firewall baseline of one order's service: its product's policy over its addresses.

Where it is enforced follows from how the service gets its OS (DESIGN.md section 3):

```
VPS / bare metal installed with our cloud-init      cloud-init: /etc/nftables.conf, loaded at
                                                    first boot (rendered by os_install, from
                                                    the addresses allocation reserved)
anything else (a panel's template, a provider's     not enforced by us: recorded as such by the
shared address)                                     network phase
```

Panels: none of the built-in plugins' panels (SolusVM 2, Virtualizor, Pterodactyl, WHM)
exposes a per-service firewall in the API we drive, so the plugin format declares no firewall
capability yet; a plugin that manages one on its panel does so in its own flows (its
`provision` flow sees the product's options).
"""

from __future__ import annotations

import ipaddress

from fluxbilling.network import firewall, nftables
from fluxbilling.orders.view import OrderView

__all__ = ["CLOUD_INIT", "policy_of", "ruleset_for"]

CLOUD_INIT = "cloud-init"
"""`enforced_by` of a baseline delivered in the cloud-init user-data."""


def policy_of(view: OrderView) -> firewall.FirewallPolicy:
    """The product's policy (its defaults when the product states none).

    Raises:
        errors.InvalidSettings: the stored policy is malformed (written around the catalogue).
    """
    return firewall.parse(view.product.get("firewall"))


def ruleset_for(view: OrderView) -> nftables.Ruleset | None:
    """The nftables ruleset for the order's service on its IPAM address(es).

    Returns:
        None when the product's policy is disabled or the service has no address of ours.

    Raises:
        errors.InvalidSettings: the policy or an address does not fit.
    """
    policy = policy_of(view)
    if not policy.enabled or not view.address:
        return None
    address = ipaddress.ip_address(view.address["address"])
    ipv4 = [str(address)] if address.version == 4 else []
    ipv6 = [str(address)] if address.version == 6 else []
    ports = firewall.open_ports(
        policy, str(view.product.get("service_type")), view.product.get("options") or {}
    )
    return nftables.render(policy, ports, ipv4=ipv4, ipv6=ipv6)
