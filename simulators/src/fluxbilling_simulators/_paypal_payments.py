"""The simulated PayPal's payments: orders, captures, refunds, reversals and disputes.

`PayPalPayments` holds the rules of the Orders v2 and Payments v2 calls the simulator
models (create, approve, capture, refund, look up) and the test-only moves PayPal makes on
its own (approval reversed, a pending capture cleared or denied, a chargeback, a dispute);
each change queues its webhook event through `PayPalWebhooks.emit`, its base. It is the base
of `simulators._paypal_state.PayPalState`. Refusals raise `_paypal_problems.PayPalProblem`
with PayPal's issue codes.
"""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

from fluxbilling_simulators._paypal_problems import invalid, not_found, unprocessable
from fluxbilling_simulators._paypal_webhooks import PayPalWebhooks, iso_time

__all__ = ["PayPalPayments"]

# PayPal's currency list; HUF, JPY and TWD take no decimals (PayPal currency-codes page).
_CURRENCY_LIST = "AUD BRL CAD CNY CZK DKK EUR HKD HUF ILS JPY MYR MXN TWD NZD NOK PHP PLN GBP SGD SEK CHF THB USD"
_CURRENCIES = frozenset(_CURRENCY_LIST.split())
_WHOLE = frozenset({"HUF", "JPY", "TWD"})


class PayPalPayments(PayPalWebhooks):
    """Orders, captures, refunds and disputes of `PayPalState`, with PayPal's money rules.

    The attributes below are `PayPalState`'s dataclass fields (documented there), declared
    here only so the type checker knows what these methods read and write.
    """

    capture_outcomes: list[str]
    orders: dict[str, dict[str, Any]]
    captures: dict[str, dict[str, Any]]
    refunds: dict[str, dict[str, Any]]
    disputes: dict[str, dict[str, Any]]

    # --- money ---------------------------------------------------------------------------

    @staticmethod
    def money(amount: Any, where: str) -> Decimal:
        """Validate a money object like PayPal does; return its value."""
        if not isinstance(amount, dict) or not amount.get("currency_code") or "value" not in amount:
            raise invalid("MISSING_REQUIRED_PARAMETER", f"{where} needs currency_code and value.")
        currency, value = amount["currency_code"], amount["value"]
        if currency not in _CURRENCIES:
            raise unprocessable(
                "INVALID_CURRENCY_CODE", "Currency code is invalid or is not currently supported."
            )
        try:
            parsed = Decimal(str(value)) if isinstance(value, str) else None
        except ArithmeticError:
            parsed = None
        if parsed is None or not parsed.is_finite():
            raise invalid(
                "INVALID_PARAMETER_SYNTAX",
                f"{where}.value does not conform to the expected format.",
            )
        exponent = parsed.as_tuple().exponent
        decimals = -exponent if isinstance(exponent, int) and exponent < 0 else 0
        if currency in _WHOLE and decimals:
            raise unprocessable("DECIMALS_NOT_SUPPORTED", "Currency does not support decimals.")
        if decimals > 2:
            raise unprocessable(
                "DECIMAL_PRECISION", "Only two decimal place precision is supported."
            )
        if parsed <= 0:
            raise unprocessable("CANNOT_BE_ZERO_OR_NEGATIVE", "Must be greater than zero.")
        return parsed

    @staticmethod
    def _amount(value: Decimal, currency: str) -> dict[str, str]:
        text = f"{value:.0f}" if currency in _WHOLE else f"{value:.2f}"
        return {"currency_code": currency, "value": text}

    # --- orders --------------------------------------------------------------------------

    def _link(self, path: str, rel: str, method: str = "GET") -> dict[str, str]:
        return {"href": f"{self.api_base}{path}", "rel": rel, "method": method}

    def _order_links(self, order: dict[str, Any]) -> list[dict[str, str]]:
        path = f"/v2/checkout/orders/{order['id']}"
        links = [self._link(path, "self")]
        if order["status"] in ("CREATED", "PAYER_ACTION_REQUIRED"):
            rel = "approve" if order["status"] == "CREATED" else "payer-action"
            href = f"https://www.sandbox.paypal.test/checkoutnow?token={order['id']}"
            links.append({"href": href, "rel": rel, "method": "GET"})
        if order["status"] != "COMPLETED":
            links.append(self._link(path, "update", "PATCH"))
            links.append(self._link(f"{path}/capture", "capture", "POST"))
        return links

    def order(self, order_id: str) -> dict[str, Any]:
        """A copy of an order (404 problem when unknown)."""
        return copy.deepcopy(self._order(order_id))

    def _order(self, order_id: str) -> dict[str, Any]:
        found = self.orders.get(order_id)
        if found is None:
            raise not_found()
        return found

    def create_order(self, body: Any) -> dict[str, Any]:
        """``POST /v2/checkout/orders``: validate like PayPal, store, return the order.

        Modelled: ``intent: CAPTURE`` with one purchase unit (other shapes answer 400 and
        say they are not modelled); money rules; ``payment_source.paypal`` makes the order
        ``PAYER_ACTION_REQUIRED`` with a ``payer-action`` link, else ``CREATED`` with an
        ``approve`` link.
        """
        if not isinstance(body, dict):
            raise invalid("MALFORMED_REQUEST_JSON", "The request JSON is not well formed.")
        if "intent" not in body:
            raise invalid("MISSING_REQUIRED_PARAMETER", "intent is required.")
        if body["intent"] != "CAPTURE":
            raise invalid(
                "INVALID_PARAMETER_VALUE", "intent: only CAPTURE is modelled by the simulator."
            )
        units = body.get("purchase_units")
        if not isinstance(units, list) or not units or not isinstance(units[0], dict):
            raise invalid("MISSING_REQUIRED_PARAMETER", "purchase_units is required.")
        if len(units) > 1:
            raise invalid("INVALID_ARRAY_MAX_ITEMS", "The simulator models one purchase unit.")
        unit = units[0]
        self.money(unit.get("amount"), "purchase_units[0].amount")
        stored: dict[str, Any] = {
            "reference_id": unit.get("reference_id") or "default",
            "amount": {k: unit["amount"][k] for k in ("currency_code", "value")},
            "payee": {
                "email_address": "merchant@sandbox.paypal.test",
                "merchant_id": "SIMMERCHANT01",
            },
        }
        for name in ("description", "custom_id", "invoice_id"):
            value = unit.get(name)
            if value is None:
                continue
            if not isinstance(value, str) or not 1 <= len(value) <= 127:
                raise invalid(
                    "INVALID_STRING_LENGTH", f"purchase_units[0].{name} must be 1-127 characters."
                )
            stored[name] = value
        source = body.get("payment_source")
        wallet = isinstance(source, dict) and "paypal" in source
        order: dict[str, Any] = {
            "id": self._id(),
            "intent": "CAPTURE",
            "status": "PAYER_ACTION_REQUIRED" if wallet else "CREATED",
            "purchase_units": [stored],
            "create_time": iso_time(self.clock()),
        }
        if wallet:
            order["payment_source"] = {"paypal": {}}
        order["links"] = self._order_links(order)
        self.orders[order["id"]] = order
        return copy.deepcopy(order)

    def approve(self, order_id: str) -> str:
        """The payer approves on PayPal's pages (no API for that): ``APPROVED`` + event.

        Returns:
            The ``CHECKOUT.ORDER.APPROVED`` event id.
        """
        order = self._order(order_id)
        if order["status"] not in ("CREATED", "PAYER_ACTION_REQUIRED"):
            raise unprocessable(
                "ORDER_CANNOT_BE_APPROVED", "Simulator: order is not awaiting approval."
            )
        payer_id = self._id(13)
        name = {"given_name": "Sim", "surname": "Buyer"}
        order["payer"] = {
            "name": name,
            "email_address": "buyer@sandbox.paypal.test",
            "payer_id": payer_id,
        }
        order["payment_source"] = {
            "paypal": {
                "email_address": "buyer@sandbox.paypal.test",
                "account_id": payer_id,
                "account_status": "VERIFIED",
                "name": name,
            }
        }
        order["status"] = "APPROVED"
        order["update_time"] = iso_time(self.clock())
        order["links"] = self._order_links(order)
        return self.emit(
            "CHECKOUT.ORDER.APPROVED",
            "checkout-order",
            order,
            "An order has been approved by buyer",
        )

    def reverse_approval(self, order_id: str) -> str:
        """PayPal could not complete an approved order: ``VOIDED`` + event (shape unverified)."""
        order = self._order(order_id)
        order["status"] = "VOIDED"
        order["links"] = self._order_links(order)
        resource = {"order_id": order_id, "purchase_units": copy.deepcopy(order["purchase_units"])}
        return self.emit(
            "CHECKOUT.PAYMENT-APPROVAL.REVERSED",
            "checkout-order",
            resource,
            "A payment has been reversed after approval.",
        )

    def capture_order(self, order_id: str) -> dict[str, Any]:
        """``POST /v2/checkout/orders/{id}/capture``: capture, complete the order, emit.

        Refusals (422): ``ORDER_ALREADY_CAPTURED``, ``ORDER_NOT_APPROVED``,
        ``DUPLICATE_INVOICE_ID`` (another live capture has the invoice id),
        ``INSTRUMENT_DECLINED`` (a queued outcome; the order stays approved).
        """
        order = self._order(order_id)
        if order["status"] == "COMPLETED":
            raise unprocessable(
                "ORDER_ALREADY_CAPTURED",
                "Order already captured.If 'intent=CAPTURE' only one capture per order is allowed.",
            )
        if order["status"] != "APPROVED":
            raise unprocessable(
                "ORDER_NOT_APPROVED",
                "Payer has not yet approved the Order for payment. Please redirect the payer to "
                "the 'rel':'approve' url returned as part of the HATEOAS links within the Create "
                "Order call or provide a valid `payment_source` in the request.",
            )
        unit = order["purchase_units"][0]
        invoice_id = unit.get("invoice_id")
        if invoice_id and any(
            c.get("invoice_id") == invoice_id and c["status"] != "DECLINED"
            for c in self.captures.values()
        ):
            raise unprocessable(
                "DUPLICATE_INVOICE_ID",
                "Duplicate Invoice ID detected. To avoid a potential duplicate transaction your "
                "account setting requires that Invoice Id be unique for each transaction.",
            )
        outcome = self.capture_outcomes.pop(0) if self.capture_outcomes else "COMPLETED"
        if outcome == "INSTRUMENT_DECLINED":
            raise unprocessable(
                "INSTRUMENT_DECLINED",
                "The instrument presented was either declined by the processor or bank, or it "
                "can't be used for this payment.",
            )
        capture = self._new_capture(order, outcome)
        order["status"] = "COMPLETED"
        order["update_time"] = capture["update_time"]
        order["links"] = self._order_links(order)
        self._sync(capture)
        amount = capture["amount"]
        summary = f"Payment {outcome.lower()} for {amount['value']} {amount['currency_code']}"
        self.emit(f"PAYMENT.CAPTURE.{outcome}", "capture", capture, summary)
        return copy.deepcopy(order)

    # --- captures and refunds ------------------------------------------------------------

    def _breakdown(self, amount: dict[str, str]) -> dict[str, Any]:
        currency = amount["currency_code"]
        gross = Decimal(amount["value"])
        fee = (gross * Decimal("0.0349")).quantize(
            Decimal(1) if currency in _WHOLE else Decimal("0.01")
        )
        return {
            "gross_amount": self._amount(gross, currency),
            "paypal_fee": self._amount(fee, currency),
            "net_amount": self._amount(gross - fee, currency),
        }

    def _new_capture(self, order: dict[str, Any], outcome: str) -> dict[str, Any]:
        unit = order["purchase_units"][0]
        capture_id = self._id()
        now = iso_time(self.clock())
        path = f"/v2/payments/captures/{capture_id}"
        capture: dict[str, Any] = {
            "id": capture_id,
            "status": outcome,
            "amount": dict(unit["amount"]),
            "final_capture": True,
            "seller_protection": {
                "status": "ELIGIBLE",
                "dispute_categories": ["ITEM_NOT_RECEIVED", "UNAUTHORIZED_TRANSACTION"],
            },
            "links": [
                self._link(path, "self"),
                self._link(f"{path}/refund", "refund", "POST"),
                self._link(f"/v2/checkout/orders/{order['id']}", "up"),
            ],
            "create_time": now,
            "update_time": now,
            "supplementary_data": {"related_ids": {"order_id": order["id"]}},
            "payee": dict(unit["payee"]),
        }
        for name in ("invoice_id", "custom_id"):
            if name in unit:
                capture[name] = unit[name]
        if outcome == "PENDING":
            capture["status_details"] = {"reason": "PENDING_REVIEW"}
        else:
            capture["seller_receivable_breakdown"] = self._breakdown(capture["amount"])
        self.captures[capture_id] = capture
        return capture

    def _sync(self, capture: dict[str, Any]) -> None:
        """Mirror a capture and its refunds into its order's ``purchase_units[0].payments``.

        PayPal's ``payment_collection`` (Orders v2 OpenAPI) has ``captures[]`` and
        ``refunds[]``; the capture shows its current status (``PARTIALLY_REFUNDED``,
        ``REFUNDED``), ``refunds`` every refund-shaped object of the capture in the order
        made, reversals included (*our* choice: PayPal does not document where a reversal
        shows), and is left out while there is none.
        """
        order = self.orders[capture["supplementary_data"]["related_ids"]["order_id"]]
        in_order = {
            k: copy.deepcopy(v)
            for k, v in capture.items()
            if k not in ("supplementary_data", "payee")
        }
        payments: dict[str, Any] = {"captures": [in_order]}
        refunds = self._refunds_of(capture["id"])
        if refunds:
            payments["refunds"] = copy.deepcopy(refunds)
        order["purchase_units"][0]["payments"] = payments

    def capture(self, capture_id: str) -> dict[str, Any]:
        """A copy of a capture (404 problem when unknown)."""
        return copy.deepcopy(self._capture(capture_id))

    def _capture(self, capture_id: str) -> dict[str, Any]:
        found = self.captures.get(capture_id)
        if found is None:
            raise not_found()
        return found

    def _settle(self, capture_id: str, status: str, event_type: str) -> str:
        capture = self._capture(capture_id)
        if capture["status"] != "PENDING":
            raise unprocessable("CAPTURE_NOT_PENDING", "Simulator: the capture is not pending.")
        capture["status"] = status
        capture.pop("status_details", None)
        if status == "COMPLETED":
            capture["seller_receivable_breakdown"] = self._breakdown(capture["amount"])
        capture["update_time"] = iso_time(self.clock())
        self._sync(capture)
        return self.emit(event_type, "capture", capture, f"Payment {status.lower()}")

    def complete_capture(self, capture_id: str) -> str:
        """A pending capture clears: ``COMPLETED`` + ``PAYMENT.CAPTURE.COMPLETED``."""
        return self._settle(capture_id, "COMPLETED", "PAYMENT.CAPTURE.COMPLETED")

    def deny_capture(self, capture_id: str) -> str:
        """A pending capture is denied: ``DECLINED`` + ``PAYMENT.CAPTURE.DENIED``."""
        return self._settle(capture_id, "DECLINED", "PAYMENT.CAPTURE.DENIED")

    def _refunds_of(self, capture_id: str) -> list[dict[str, Any]]:
        """The refunds and reversals of a capture (their ``up`` link), oldest first."""
        up = f"{self.api_base}/v2/payments/captures/{capture_id}"
        return [r for r in self.refunds.values() if r["links"][1]["href"] == up]

    def _refunded(self, capture_id: str) -> Decimal:
        return sum(
            (Decimal(r["amount"]["value"]) for r in self._refunds_of(capture_id)), Decimal(0)
        )

    def _money_out(
        self, capture: dict[str, Any], value: Decimal, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """Store a refund-shaped object (refund or reversal) and update the capture."""
        currency = capture["amount"]["currency_code"]
        refund_id = self._id()
        now = iso_time(self.clock())
        refunded = self._refunded(capture["id"]) + value
        refund: dict[str, Any] = {
            "id": refund_id,
            "amount": self._amount(value, currency),
            **{k: capture[k] for k in ("invoice_id", "custom_id") if k in capture},
            **extra,
            "seller_payable_breakdown": {
                "gross_amount": self._amount(value, currency),
                "paypal_fee": self._amount(Decimal(0), currency),
                "net_amount": self._amount(value, currency),
                "total_refunded_amount": self._amount(refunded, currency),
            },
            "status": "COMPLETED",
            "create_time": now,
            "update_time": now,
            "links": [
                self._link(f"/v2/payments/refunds/{refund_id}", "self"),
                self._link(f"/v2/payments/captures/{capture['id']}", "up"),
            ],
        }
        self.refunds[refund_id] = refund
        full = refunded >= Decimal(capture["amount"]["value"])
        capture["status"] = "REFUNDED" if full else "PARTIALLY_REFUNDED"
        capture["update_time"] = now
        self._sync(capture)
        return refund

    def refund_capture(self, capture_id: str, body: Any) -> dict[str, Any]:
        """``POST /v2/payments/captures/{id}/refund``: full (no amount) or partial.

        Refusals (422): ``CAPTURE_FULLY_REFUNDED``, ``REFUND_NOT_ALLOWED`` (not completed),
        ``REFUND_CAPTURE_CURRENCY_MISMATCH``, ``REFUND_AMOUNT_EXCEEDED`` and the money rules.
        """
        capture = self._capture(capture_id)
        body = body if isinstance(body, dict) else {}
        if capture["status"] == "REFUNDED":
            raise unprocessable(
                "CAPTURE_FULLY_REFUNDED", "The capture has already been fully refunded"
            )
        if capture["status"] not in ("COMPLETED", "PARTIALLY_REFUNDED"):
            raise unprocessable("REFUND_NOT_ALLOWED", "Capture cannot be refunded.")
        remaining = Decimal(capture["amount"]["value"]) - self._refunded(capture_id)
        value = remaining
        if body.get("amount") is not None:
            value = self.money(body["amount"], "amount")
            if body["amount"]["currency_code"] != capture["amount"]["currency_code"]:
                raise unprocessable(
                    "REFUND_CAPTURE_CURRENCY_MISMATCH",
                    "Refund must be in the same currency as the capture",
                )
            if value > remaining:
                raise unprocessable(
                    "REFUND_AMOUNT_EXCEEDED",
                    "The refund amount must be less than or equal to the capture amount that has "
                    "not yet been refunded.",
                )
        extra = {
            k: body[k]
            for k in ("invoice_id", "custom_id", "note_to_payer")
            if isinstance(body.get(k), str)
        }
        refund = self._money_out(capture, value, extra)
        amount = refund["amount"]
        summary = f"A {amount['value']} {amount['currency_code']} capture payment was refunded"
        self.emit("PAYMENT.CAPTURE.REFUNDED", "refund", refund, summary)
        return copy.deepcopy(refund)

    def refund(self, refund_id: str) -> dict[str, Any]:
        """A copy of a refund (404 problem when unknown)."""
        found = self.refunds.get(refund_id)
        if found is None:
            raise not_found()
        return copy.deepcopy(found)

    def reverse_capture(self, capture_id: str) -> str:
        """A chargeback takes the rest of the money back: ``PAYMENT.CAPTURE.REVERSED``.

        The resource is refund-shaped (``resource_type: refund``, ``up`` link to the
        capture, ``note_to_payer: Payment reversed``), as in PayPal's published sample; the
        capture's status afterwards is our choice (``REFUNDED``, as PayPal's published
        capture statuses have no ``REVERSED``), and so is listing the reversal among the
        order's refunds: neither is verified.
        """
        capture = self._capture(capture_id)
        remaining = Decimal(capture["amount"]["value"]) - self._refunded(capture_id)
        reversal = self._money_out(capture, remaining, {"note_to_payer": "Payment reversed"})
        amount = reversal["amount"]
        summary = f"A {amount['value']} {amount['currency_code']} capture payment was reversed"
        return self.emit("PAYMENT.CAPTURE.REVERSED", "refund", reversal, summary)

    def open_dispute(
        self, capture_id: str, reason: str = "MERCHANDISE_OR_SERVICE_NOT_RECEIVED"
    ) -> str:
        """The buyer opens a dispute on a capture: ``CUSTOMER.DISPUTE.CREATED``."""
        capture = self._capture(capture_id)
        dispute_id = f"PP-D-{self.rng.randrange(10**5):05d}"
        now = iso_time(self.clock())
        transaction = {
            "seller_transaction_id": capture_id,
            "create_time": capture["create_time"],
            "transaction_status": "COMPLETED",
            "gross_amount": dict(capture["amount"]),
            "buyer": {"name": "Sim Buyer"},
            "seller": {"merchant_id": capture["payee"]["merchant_id"]},
        }
        if "invoice_id" in capture:
            transaction["invoice_number"] = capture["invoice_id"]
        if "custom_id" in capture:
            transaction["custom"] = capture["custom_id"]
        dispute = {
            "dispute_id": dispute_id,
            "create_time": now,
            "update_time": now,
            "disputed_transactions": [transaction],
            "reason": reason,
            "status": "OPEN",
            "dispute_amount": dict(capture["amount"]),
            "dispute_life_cycle_stage": "INQUIRY",
            "dispute_channel": "INTERNAL",
            "links": [self._link(f"/v1/customer/disputes/{dispute_id}", "self")],
        }
        self.disputes[dispute_id] = dispute
        return self.emit("CUSTOMER.DISPUTE.CREATED", "dispute", dispute, "A new dispute opened")
