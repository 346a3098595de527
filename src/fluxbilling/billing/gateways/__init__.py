"""One package per payment gateway, each implementing `billing.gateway.Gateway`.

Every gateway has the same anatomy:

```
gateways/<name>/
  verify.py     authenticity: signatures, certificates, per-order tokens (pure)
  events.py     notifications and fetched objects parsed and classified into `PaymentFact`s (pure)
  amounts.py    the gateway's decimal amounts to ISO 4217 minor units and back (pure;
                Stripe has none: its API speaks minor units)
  checkout.py   the body of the request that creates the checkout object of one attempt (pure)
  api.py        the HTTP client of the gateway's API, over `drivers.upstream`
  adapter.py    the `Gateway` the webhooks, checkout and reconciler call
  __init__.py   exports the adapter (and `connect` where the adapter makes its own client)
```

`bootstrap` builds one adapter per configured gateway.
"""

from __future__ import annotations

__all__: list[str] = []
