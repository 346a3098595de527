"""Notification bodies shaped like the gateways' documentation examples, shared by tests."""

from __future__ import annotations

import json

MOLLIE_EVENT = json.dumps(
    {
        "resource": "event",
        "id": "event_GvJ8WHrp5isUdRub9CJyH",
        "type": "payment.paid",
        "entityId": "tr_5B8cwPMGnU6qLbRvo7qEZo",
        "createdAt": "2026-11-26T10:00:00+00:00",
        "_embedded": {"entity": {"resource": "payment", "id": "tr_5B8cwPMGnU6qLbRvo7qEZo"}},
        "_links": {
            "entity": {"href": "https://api.mollie.com/v2/payments/tr_5B8cwPMGnU6qLbRvo7qEZo"}
        },
    },
    indent=2,
).encode()
"""A next-gen Mollie event with the full payload (signed by the tests that need it)."""

PAYPAL_CAPTURE_COMPLETED = (
    b'{"id":"WH-36G56432PK518391U-9HW18392D95289106","event_type":"PAYMENT.CAPTURE.COMPLETED",'
    b'"resource_type":"capture","create_time":"2026-11-26T06:59:58.123Z","resource":{"id":'
    b'"7TK53561YB803214S","status":"COMPLETED","amount":{"currency_code":"EUR","value":"19.99"},'
    b'"custom_id":"INV-42","invoice_id":"INV-42"}}'
)
"""A PayPal capture webhook body, byte for byte as PayPal sends it (no spaces)."""
