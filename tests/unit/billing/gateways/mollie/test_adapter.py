"""MollieGateway against the Mollie simulator in-process: checkout, classic pings authenticated
by re-fetch, signed next-gen events, upstream failures and the API key's secrecy."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx
import pytest
from starlette.types import ASGIApp

from fluxbilling import errors
from fluxbilling.billing.facts import PaymentFact
from fluxbilling.billing.gateway import Attempt, CheckoutRequest, Gateway, Verified, state_key
from fluxbilling.billing.gateways import mollie as mollie_gateway
from fluxbilling.billing.gateways.mollie import MollieGateway
from fluxbilling.billing.gateways.mollie import checkout as mollie_checkout
from fluxbilling.billing.gateways.mollie import events as mollie_events
from fluxbilling.billing.gateways.mollie import verify as mollie_verify
from fluxbilling_simulators import mollie as mollie_sim
from fluxbilling_simulators._faults import Faults

pytestmark = pytest.mark.anyio

KEY = "test_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM"
LIVE_KEY = "live_4BBB6H4s2jGi3ajsx4E2KqY5sxSXaRV"
BASE = "https://api.mollie.test"
HOOK = "https://shop.test/webhooks/mollie"
NEXT_GEN = "https://shop.test/webhooks/mollie-next"
SECRET = "nextgen-secret-current-0123456789"
OLD_SECRET = "nextgen-secret-previous-0123456789"
NOW = 1_795_000_000.0
FORM = {"Content-Type": "application/x-www-form-urlencoded"}


class DeadlineTransport(httpx.AsyncBaseTransport):
    """The simulator in-process, with the client's read timeout enforced as a socket would."""

    def __init__(self, app: ASGIApp) -> None:
        self.inner = httpx.ASGITransport(app=app)
        self.closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        timeout = request.extensions.get("timeout", {}).get("read")
        try:
            with anyio.fail_after(timeout):
                return await self.inner.handle_async_request(request)
        except TimeoutError as exc:
            raise httpx.ReadTimeout("simulated read timeout", request=request) from exc

    async def aclose(self) -> None:
        self.closed = True
        await self.inner.aclose()


async def no_attempts(gateway_ref: str) -> Attempt | None:
    """The attempts lookup: the adapter leaves ownership to the ledger, so nothing is ours."""
    return None


@pytest.fixture
def sim() -> mollie_sim.MollieState:
    return mollie_sim.MollieState(faults=Faults(timeout_delay=5.0), seed=11)


@pytest.fixture
def transport(sim: mollie_sim.MollieState) -> DeadlineTransport:
    return DeadlineTransport(mollie_sim.create_app(sim))


@pytest.fixture
async def gateway(transport: DeadlineTransport) -> AsyncIterator[MollieGateway]:
    gateway = mollie_gateway.connect(
        KEY, base_url=BASE, transport=transport, timeout=0.2, webhook_secrets=[SECRET, OLD_SECRET]
    )
    yield gateway
    await gateway.aclose()


@pytest.fixture
async def notifier(sim: mollie_sim.MollieState) -> AsyncIterator[mollie_sim.MollieNotifier]:
    """Builds Mollie's deliveries byte for byte; tests hand them to `verify` directly."""
    client = httpx.AsyncClient(transport=httpx.MockTransport(lambda r: httpx.Response(200)))
    notifier = mollie_sim.MollieNotifier(
        sim, client, next_gen_url=NEXT_GEN, next_gen_secrets=[SECRET, OLD_SECRET]
    )
    yield notifier
    await notifier.aclose()


def checkout_request(attempt: int = 1, **changes: Any) -> CheckoutRequest:
    values: dict[str, Any] = {
        "invoice_id": 42,
        "attempt": attempt,
        "amount_minor": 1000,
        "currency": "EUR",
        "description": "Invoice 42",
        "success_url": "https://shop.test/return/42",
        "cancel_url": "https://shop.test/cancel/42",
        "webhook_url": HOOK,
    }
    return CheckoutRequest(**{**values, **changes})


async def paid_payment(gateway: MollieGateway, sim: mollie_sim.MollieState) -> str:
    payment_id = (await gateway.create_checkout(checkout_request())).gateway_ref
    sim.pay(payment_id)
    return payment_id


async def verify(
    gateway: MollieGateway, body: bytes, headers: Any = None, **kwargs: Any
) -> Verified:
    return await gateway.verify(
        body, FORM if headers is None else headers, now=NOW, attempts=no_attempts, **kwargs
    )


def ping(payment_id: str) -> bytes:
    return f"id={payment_id}".encode()


def fact(kind: Any, amount: int, object_id: str, payment_id: str, **changes: Any) -> PaymentFact:
    values: dict[str, Any] = {
        "kind": kind,
        "gateway_payment_id": payment_id,
        "invoice_ref": "42",
        "amount_minor": amount,
        "currency": "EUR",
        "livemode": False,
        "gateway_object_id": object_id,
    }
    return PaymentFact(**{**values, **changes})


def signed_event(entity_id: str, event_type: str = "payment.paid", **extra: Any) -> bytes:
    return json.dumps(
        {
            "resource": "event",
            "id": "event_GvJ8WHrp5isUdRub9CJyH",
            "type": event_type,
            "entityId": entity_id,
            "createdAt": "2026-11-26T10:00:00+00:00",
            **extra,
        }
    ).encode()


# --- construction ---------------------------------------------------------------------


async def test_the_adapter_is_a_gateway(gateway: MollieGateway) -> None:
    adapter: Gateway = gateway
    assert (adapter.name, adapter.livemode) == ("mollie", False)


@pytest.mark.parametrize(("key", "livemode"), [(KEY, False), (LIVE_KEY, True)])
async def test_the_mode_is_the_key_prefix(
    key: str, livemode: bool, sim: mollie_sim.MollieState, transport: DeadlineTransport
) -> None:
    gateway = mollie_gateway.connect(key, base_url=BASE, transport=transport)
    assert gateway.livemode is livemode
    payment_id = (await gateway.create_checkout(checkout_request())).gateway_ref
    assert sim.payments[payment_id]["mode"] == ("live" if livemode else "test")
    sim.pay(payment_id)
    facts = await gateway.fetch(payment_id)
    assert facts is not None
    assert [f.livemode for f in facts] == [livemode]
    await gateway.aclose()


@pytest.mark.parametrize(
    "key",
    [
        "prod_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM",
        "sk_test_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM",
        "access_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM",
        "Test_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM",
        "test_",
        "test_dHar4XY7Lx sDOtmnkVtjNVWXLSlXsM",
        "live_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM\n",
    ],
)
def test_a_key_without_a_mode_prefix_is_refused_without_naming_it(key: str) -> None:
    with pytest.raises(errors.InvalidSettings) as info:
        mollie_gateway.connect(key)
    # The same fixed text for every key: the key itself is never in it.
    assert info.value.to_dict() == {
        "code": "InvalidSettings",
        "message": "the Mollie API key must be 'test_' or 'live_' followed by letters, digits"
        " and underscores",
        "details": {"upstream": "mollie"},
    }


def test_an_empty_key_is_refused() -> None:
    with pytest.raises(errors.InvalidSettings, match="no Mollie API key is configured"):
        mollie_gateway.connect("")


async def test_the_key_is_sent_as_a_bearer_token(
    gateway: MollieGateway, sim: mollie_sim.MollieState
) -> None:
    sim.api_keys = frozenset({KEY})
    assert await gateway.fetch("tr_unknown1") is None
    sim.api_keys = frozenset({LIVE_KEY})
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await gateway.fetch("tr_unknown1")
    assert info.value.status == 401


async def test_aclose_closes_the_http_client(transport: DeadlineTransport) -> None:
    gateway = mollie_gateway.connect(KEY, base_url=BASE, transport=transport)
    await gateway.aclose()
    assert transport.closed


# --- checkout -------------------------------------------------------------------------


async def test_checkout_creates_an_open_payment_and_returns_its_checkout_url(
    gateway: MollieGateway, sim: mollie_sim.MollieState
) -> None:
    checkout = await gateway.create_checkout(checkout_request())
    payment = sim.payments[checkout.gateway_ref]
    assert payment["status"] == "open"
    assert payment["amount"] == {"value": "10.00", "currency": "EUR"}
    assert payment["metadata"] == {"invoice_id": "42"}
    assert (payment["redirectUrl"], payment["webhookUrl"]) == ("https://shop.test/return/42", HOOK)
    token = checkout.gateway_ref.removeprefix("tr_")
    assert checkout.redirect_url == f"{BASE}/checkout/select-method/{token}"
    assert checkout.callback_token_hash is None


async def test_retrying_an_attempt_returns_the_same_payment(
    gateway: MollieGateway, sim: mollie_sim.MollieState
) -> None:
    sim.faults.crash_next_create()
    with pytest.raises(errors.TransientUpstreamError):
        await gateway.create_checkout(checkout_request())
    first = await gateway.create_checkout(checkout_request())
    again = await gateway.create_checkout(checkout_request())
    assert again == first
    assert list(sim.payments) == [first.gateway_ref]
    other = await gateway.create_checkout(checkout_request(attempt=2))
    assert other.gateway_ref != first.gateway_ref
    assert len(sim.payments) == 2


async def test_a_replayed_attempt_that_was_paid_has_no_checkout_link(
    gateway: MollieGateway, sim: mollie_sim.MollieState
) -> None:
    await paid_payment(gateway, sim)
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await gateway.create_checkout(checkout_request())
    assert "'_links.checkout.href'" in info.value.message
    assert info.value.details == {"field": "_links.checkout.href", "payment_status": "paid"}


@pytest.mark.parametrize(
    ("answer", "missing"),
    [
        ({}, "id"),
        ({"id": 7}, "id"),
        ({"id": "re_4qqhO89gsT"}, "id"),
        ({"id": "tr_abc"}, "_links.checkout.href"),
        ({"id": "tr_abc", "_links": {"checkout": None}}, "_links.checkout.href"),
        ({"id": "tr_abc", "_links": {"checkout": {"href": ""}}}, "_links.checkout.href"),
    ],
)
async def test_a_created_answer_without_id_or_link_is_permanent(
    answer: dict[str, Any], missing: str
) -> None:
    mock = httpx.MockTransport(lambda request: httpx.Response(201, json=answer))
    gateway = mollie_gateway.connect(KEY, base_url=BASE, transport=mock)
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await gateway.create_checkout(checkout_request())
    assert info.value.message == f"mollie: create payment: the answer has no valid '{missing}'"
    assert info.value.details["field"] == missing
    await gateway.aclose()


async def test_an_unsupported_currency_is_a_setting_problem(gateway: MollieGateway) -> None:
    with pytest.raises(errors.InvalidSettings):
        await gateway.create_checkout(checkout_request(currency="BTC"))


# --- classic pings --------------------------------------------------------------------


async def test_a_classic_ping_of_a_paid_payment_is_a_paid_fact(
    gateway: MollieGateway, sim: mollie_sim.MollieState, notifier: mollie_sim.MollieNotifier
) -> None:
    payment_id = await paid_payment(gateway, sim)
    classic = next(n for n in notifier.collect() if n.kind == "classic")
    verified = await verify(gateway, classic.body, dict(classic.headers))
    paid = fact("paid", 1000, payment_id, payment_id)
    assert verified == Verified(
        state_key(payment_id, [paid]), "paid", (paid,), resource_id=payment_id
    )
    assert verified.event_id.startswith(f"{payment_id}@")


async def test_the_same_ping_twice_has_the_same_event_id(
    gateway: MollieGateway, sim: mollie_sim.MollieState
) -> None:
    payment_id = await paid_payment(gateway, sim)
    first = await verify(gateway, ping(payment_id))
    second = await verify(gateway, ping(payment_id))
    assert second.event_id == first.event_id
    assert sim.requests == 3  # create + one re-fetch per ping: a ping is never trusted


async def test_each_change_of_state_has_a_new_event_id(
    gateway: MollieGateway, sim: mollie_sim.MollieState
) -> None:
    payment_id = await paid_payment(gateway, sim)
    paid = fact("paid", 1000, payment_id, payment_id)
    seen = [(await verify(gateway, ping(payment_id))).event_id]

    refund = sim.refund(payment_id, 400)
    verified = await verify(gateway, ping(payment_id))
    assert verified.facts == (paid, fact("refund", 400, refund["id"], payment_id))
    seen.append(verified.event_id)

    sim.set_refund_status(refund["id"], "refunded")  # same amount: nothing new to apply
    assert (await verify(gateway, ping(payment_id))).event_id == seen[-1]

    sim.set_refund_status(refund["id"], "failed")  # the money never left: amount 0
    verified = await verify(gateway, ping(payment_id))
    assert verified.facts == (paid, fact("refund", 0, refund["id"], payment_id))
    seen.append(verified.event_id)

    chargeback = sim.chargeback(payment_id)
    verified = await verify(gateway, ping(payment_id))
    assert verified.facts[-1] == fact("dispute", 1000, chargeback["id"], payment_id)
    seen.append(verified.event_id)

    sim.reverse_chargeback(chargeback["id"])
    verified = await verify(gateway, ping(payment_id))
    assert verified.facts[-1] == fact("dispute", 0, chargeback["id"], payment_id)
    seen.append(verified.event_id)
    assert len(set(seen)) == len(seen) == 5


@pytest.mark.parametrize(
    ("move", "kind", "status"),
    [
        (mollie_sim.MollieState.fail, "failed", "failed"),
        (mollie_sim.MollieState.expire, "failed", "expired"),
        (mollie_sim.MollieState.cancel, "failed", "canceled"),
        (mollie_sim.MollieState.mark_pending, "pending", "pending"),
    ],
)
async def test_other_statuses_are_classified(
    gateway: MollieGateway, sim: mollie_sim.MollieState, move: Any, kind: str, status: str
) -> None:
    payment_id = (await gateway.create_checkout(checkout_request())).gateway_ref
    move(sim, payment_id)
    verified = await verify(gateway, ping(payment_id))
    assert (verified.event_type, verified.facts) == (
        status,
        (fact(kind, 1000, payment_id, payment_id),),
    )
    assert verified.note == ""


async def test_an_authorized_payment_is_pending_and_never_captured(
    gateway: MollieGateway, sim: mollie_sim.MollieState
) -> None:
    payment_id = (await gateway.create_checkout(checkout_request())).gateway_ref
    sim.authorize(payment_id)
    verified = await verify(gateway, ping(payment_id))
    assert verified.facts == (fact("pending", 1000, payment_id, payment_id),)
    assert "never captures" in verified.note
    assert sim.payments[payment_id]["status"] == "authorized"


async def test_an_unknown_payment_has_no_facts_and_a_note(
    gateway: MollieGateway, sim: mollie_sim.MollieState
) -> None:
    verified = await verify(gateway, ping("tr_forged12345"))
    assert verified == Verified(
        "",
        "unknown",
        (),
        resource_id="tr_forged12345",
        note="payment tr_forged12345 is unknown to this Mollie account",
        authentic=False,
    )


async def test_a_payment_of_the_other_mode_is_unknown(
    gateway: MollieGateway, sim: mollie_sim.MollieState
) -> None:
    live = sim.create_payment(
        mollie_checkout.checkout_request(42, 1000, "EUR", "x", BASE, HOOK), "live"
    )
    sim.pay(live["id"])
    verified = await verify(gateway, ping(live["id"]))
    assert (verified.facts, verified.note) == (
        (),
        f"payment {live['id']} is unknown to this Mollie account",
    )


@pytest.mark.parametrize(
    ("body", "headers"),
    [
        (b"", FORM),
        (b"id=re_4qqhO89gsT", FORM),
        (b"id=tr_a&status=paid", FORM),
        (b"id=tr_a&id=tr_b", FORM),
        (b'{"id": "tr_abc"}', FORM),
        (b"id=tr_abc", {"Content-Type": "application/json"}),
    ],
)
async def test_a_malformed_ping_is_invalid_and_asks_nothing(
    gateway: MollieGateway, sim: mollie_sim.MollieState, body: bytes, headers: dict[str, str]
) -> None:
    with pytest.raises(errors.InvalidWebhook):
        await verify(gateway, body, headers)
    assert sim.requests == 0


async def test_a_ping_without_content_type_is_parsed(
    gateway: MollieGateway, sim: mollie_sim.MollieState
) -> None:
    payment_id = await paid_payment(gateway, sim)
    verified = await verify(gateway, ping(payment_id), {})
    assert [f.kind for f in verified.facts] == ["paid"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"amount": {"value": "10.00", "currency": "XTS"}}, "amount.currency"),
        ({"mode": "sandbox"}, "mode"),
        ({"status": None}, "status"),
        ({"id": "tr_someoneelse"}, None),
    ],
)
async def test_a_fetched_payment_we_cannot_read_is_the_upstreams_fault(
    changes: dict[str, Any], field: str | None
) -> None:
    payment = {
        "resource": "payment",
        "id": "tr_abc",
        "mode": "test",
        "status": "paid",
        "amount": {"value": "10.00", "currency": "EUR"},
        **changes,
    }
    mock = httpx.MockTransport(lambda request: httpx.Response(200, json=payment))
    gateway = mollie_gateway.connect(KEY, base_url=BASE, transport=mock)
    with pytest.raises(errors.PermanentUpstreamError) as info:
        await verify(gateway, ping("tr_abc"))
    assert info.value.message.startswith("mollie: get payment: ")
    assert info.value.details.get("field") == field
    with pytest.raises(errors.PermanentUpstreamError):
        await gateway.fetch("tr_abc")
    await gateway.aclose()


# --- next-gen events ------------------------------------------------------------------


async def next_gen_delivery(
    gateway: MollieGateway, sim: mollie_sim.MollieState, notifier: mollie_sim.MollieNotifier
) -> tuple[str, mollie_sim.Notification]:
    payment_id = await paid_payment(gateway, sim)
    delivery = next(n for n in notifier.collect() if n.kind == "next-gen")
    return payment_id, delivery


@pytest.mark.parametrize("secrets", [[SECRET], [OLD_SECRET], ["unrelated-secret", OLD_SECRET]])
async def test_a_signed_event_verifies_with_the_current_or_a_previous_secret(
    gateway: MollieGateway,
    sim: mollie_sim.MollieState,
    notifier: mollie_sim.MollieNotifier,
    secrets: list[str],
) -> None:
    payment_id, delivery = await next_gen_delivery(gateway, sim, notifier)
    event = mollie_events.parse_event(delivery.body)
    gateway.webhook_secrets = tuple(secrets)
    # Both signatures, as a multi-valued mapping folds them (comma-joined) ...
    verified = await verify(gateway, delivery.body, httpx.Headers(list(delivery.headers)))
    paid = fact("paid", 1000, payment_id, payment_id)
    assert verified == Verified(event.id, "payment.paid", (paid,), resource_id=payment_id)
    # ... and the one signature we can check alone, as a plain mapping keeps one value.
    ours = mollie_verify.sign(delivery.body, secrets[-1])
    assert (mollie_verify.SIGNATURE_HEADER, ours) in delivery.headers
    assert await verify(gateway, delivery.body, {mollie_verify.SIGNATURE_HEADER: ours}) == verified


async def test_every_signature_item_of_a_mapping_counts(gateway: MollieGateway) -> None:
    body = signed_event("pl_4Y0eZitmBnQ6IDoMqZQKh")

    class Repeated(dict[str, str]):
        """A mapping whose items repeat a header, like Starlette's `Headers.items()`."""

        def items(self) -> Any:
            return [
                (mollie_verify.SIGNATURE_HEADER, mollie_verify.sign(body, "not-ours")),
                (mollie_verify.SIGNATURE_HEADER, mollie_verify.sign(body, OLD_SECRET)),
            ]

    verified = await verify(gateway, body, Repeated())
    assert [f.kind for f in verified.facts] == ["ignored"]


async def test_a_signed_event_is_never_trusted_over_the_refetched_payment(
    gateway: MollieGateway, sim: mollie_sim.MollieState, notifier: mollie_sim.MollieNotifier
) -> None:
    payment_id, delivery = await next_gen_delivery(gateway, sim, notifier)
    event = mollie_events.parse_event(delivery.body)
    assert event.entity is not None and "_embedded" not in event.entity  # no refund yet
    refund = sim.refund(payment_id)
    verified = await verify(gateway, delivery.body, dict(delivery.headers))
    assert verified.facts[-1] == fact("refund", 1000, refund["id"], payment_id)
    assert verified.event_id == event.id  # still the event: a redelivery is a duplicate


@pytest.mark.parametrize(
    "tamper",
    [
        lambda body, headers: (body.replace(b"payment.paid", b"payment.pain"), headers),
        lambda body, headers: (body + b" ", headers),
        lambda body, headers: (
            body,
            {**headers, mollie_verify.SIGNATURE_HEADER: mollie_verify.sign(body, "wrong-secret")},
        ),
        lambda body, headers: (body, {**headers, mollie_verify.SIGNATURE_HEADER: ""}),
        lambda body, headers: (body, {**headers, mollie_verify.SIGNATURE_HEADER: "sha256=00ff"}),
        # Without the header the event is read as a classic ping, which it is not.
        lambda body, headers: (body, {"Content-Type": "application/json"}),
    ],
    ids=["tampered-type", "extra-byte", "wrong-secret", "empty-header", "short", "no-header"],
)
async def test_a_forged_event_is_invalid_and_asks_nothing(
    gateway: MollieGateway,
    sim: mollie_sim.MollieState,
    notifier: mollie_sim.MollieNotifier,
    tamper: Any,
) -> None:
    _, delivery = await next_gen_delivery(gateway, sim, notifier)
    headers = dict(delivery.headers)  # the last signature: the previous secret's
    assert [f.kind for f in (await verify(gateway, delivery.body, headers)).facts] == ["paid"]
    asked = sim.requests
    body, forged = tamper(delivery.body, headers)
    with pytest.raises(errors.InvalidWebhook):
        await verify(gateway, body, forged)
    assert sim.requests == asked


async def test_a_signed_event_without_secrets_is_not_authentic(
    gateway: MollieGateway, sim: mollie_sim.MollieState, notifier: mollie_sim.MollieNotifier
) -> None:
    # Anyone can add the header: without a secret nothing proves it, and waiting cannot help.
    _, delivery = await next_gen_delivery(gateway, sim, notifier)
    gateway.webhook_secrets = ()
    asked = sim.requests
    with pytest.raises(errors.InvalidWebhook, match="no next-gen webhook secret"):
        gateway.screen(delivery.body, dict(delivery.headers), now=0)
    with pytest.raises(errors.InvalidWebhook, match="no next-gen webhook secret"):
        await verify(gateway, delivery.body, dict(delivery.headers))
    assert sim.requests == asked


async def test_connect_without_secrets_still_takes_classic_pings(
    sim: mollie_sim.MollieState, transport: DeadlineTransport
) -> None:
    gateway = mollie_gateway.connect(KEY, base_url=BASE, transport=transport)
    assert gateway.webhook_secrets == ()
    payment_id = await paid_payment(gateway, sim)
    assert [f.kind for f in (await verify(gateway, ping(payment_id))).facts] == ["paid"]
    body = signed_event(payment_id)
    with pytest.raises(errors.InvalidWebhook):
        await verify(
            gateway, body, {mollie_verify.SIGNATURE_HEADER: mollie_verify.sign(body, SECRET)}
        )
    await gateway.aclose()


async def test_an_event_about_another_entity_is_acknowledged_as_ignored(
    gateway: MollieGateway, sim: mollie_sim.MollieState
) -> None:
    body = signed_event("pl_4Y0eZitmBnQ6IDoMqZQKh", "payment-link.paid")
    verified = await verify(
        gateway, body, {mollie_verify.SIGNATURE_HEADER: mollie_verify.sign(body, SECRET)}
    )
    assert verified == Verified(
        "event_GvJ8WHrp5isUdRub9CJyH",
        "payment-link.paid",
        (
            PaymentFact(
                "ignored",
                "pl_4Y0eZitmBnQ6IDoMqZQKh",
                None,
                0,
                "",
                False,
                "pl_4Y0eZitmBnQ6IDoMqZQKh",
            ),
        ),
        resource_id="pl_4Y0eZitmBnQ6IDoMqZQKh",
    )
    assert sim.requests == 0


async def test_a_signed_event_about_an_unknown_payment_has_no_facts(
    gateway: MollieGateway,
) -> None:
    body = signed_event("tr_unknown12345")
    verified = await verify(
        gateway, body, {mollie_verify.SIGNATURE_HEADER: mollie_verify.sign(body, SECRET)}
    )
    assert (verified.event_id, verified.facts, verified.note) == (
        "event_GvJ8WHrp5isUdRub9CJyH",
        (),
        "payment tr_unknown12345 is unknown to this Mollie account",
    )


@pytest.mark.parametrize(
    "body",
    [
        signed_event("tr_../customers"),
        signed_event("tr_" + "a" * 65),
        b'{"resource": "event", "id": "event_x"}',
        b"id=tr_abc",
    ],
)
async def test_a_signed_but_malformed_event_is_invalid(
    gateway: MollieGateway, sim: mollie_sim.MollieState, body: bytes
) -> None:
    with pytest.raises(errors.InvalidWebhook):
        await verify(
            gateway, body, {mollie_verify.SIGNATURE_HEADER: mollie_verify.sign(body, SECRET)}
        )
    assert sim.requests == 0


# --- fetch and upstream failures ------------------------------------------------------


async def test_fetch_classifies_a_known_payment_and_is_none_for_an_unknown_one(
    gateway: MollieGateway, sim: mollie_sim.MollieState
) -> None:
    payment_id = await paid_payment(gateway, sim)
    refund = sim.refund(payment_id, 250)
    assert await gateway.fetch(payment_id) == [
        fact("paid", 1000, payment_id, payment_id),
        fact("refund", 250, refund["id"], payment_id),
    ]
    assert await gateway.fetch("tr_unknown12345") is None


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_a_failing_refetch_is_transient(
    gateway: MollieGateway,
    sim: mollie_sim.MollieState,
    notifier: mollie_sim.MollieNotifier,
    status: int,
) -> None:
    payment_id, delivery = await next_gen_delivery(gateway, sim, notifier)
    sim.faults.fail_next(3, status)
    with pytest.raises(errors.TransientUpstreamError) as info:
        await verify(gateway, ping(payment_id))
    assert (info.value.status, info.value.operation) == (status, "get payment")
    with pytest.raises(errors.TransientUpstreamError):
        await verify(gateway, delivery.body, dict(delivery.headers))
    with pytest.raises(errors.TransientUpstreamError):
        await gateway.fetch(payment_id)
    assert [f.kind for f in (await verify(gateway, ping(payment_id))).facts] == ["paid"]


async def test_a_slow_refetch_times_out_as_transient(
    gateway: MollieGateway, sim: mollie_sim.MollieState
) -> None:
    payment_id = await paid_payment(gateway, sim)
    sim.faults.fail_next(1, "timeout")
    with pytest.raises(errors.TransientUpstreamError, match="timed out") as info:
        await verify(gateway, ping(payment_id))
    assert isinstance(info.value.__cause__, httpx.ReadTimeout)


def secret_free(exc: BaseException, key: str) -> bool:
    """Whether `key` appears nowhere in the error, its details or its causes."""
    texts: list[str] = []
    current: BaseException | None = exc
    while current is not None:
        texts.append(str(current))
        if isinstance(current, errors.FluxError):
            texts.append(json.dumps(current.to_dict(), default=str))
        current = current.__cause__
    return all(key not in text for text in texts)


async def test_the_api_key_never_appears_in_an_error(
    sim: mollie_sim.MollieState, transport: DeadlineTransport
) -> None:
    def echo(request: httpx.Request) -> httpx.Response:
        # A broken proxy that echoes the request's credentials in its error page.
        return httpx.Response(500, text=f"upstream said: {request.headers['Authorization']}")

    failures: list[BaseException] = []
    echoing = mollie_gateway.connect(KEY, base_url=BASE, transport=httpx.MockTransport(echo))
    for call in (echoing.fetch("tr_abc"), echoing.create_checkout(checkout_request())):
        with pytest.raises(errors.TransientUpstreamError) as info:
            await call
        assert "***" in info.value.message
        failures.append(info.value)
    await echoing.aclose()

    gateway = mollie_gateway.connect(KEY, base_url=BASE, transport=transport, timeout=0.2)
    sim.api_keys = frozenset({LIVE_KEY})
    with pytest.raises(errors.PermanentUpstreamError) as refused:
        await verify(gateway, ping("tr_abc"))
    sim.api_keys = frozenset()
    sim.faults.fail_next(1, "timeout")
    with pytest.raises(errors.TransientUpstreamError) as slow:
        await gateway.fetch("tr_abc")
    with pytest.raises(errors.PermanentUpstreamError) as invalid:
        await gateway.create_checkout(checkout_request(description=""))
    await gateway.aclose()
    failures += [refused.value, slow.value, invalid.value]
    assert [type(e).__name__ for e in failures] == [
        "TransientUpstreamError",
        "TransientUpstreamError",
        "PermanentUpstreamError",
        "TransientUpstreamError",
        "PermanentUpstreamError",
    ]
    assert all(secret_free(e, KEY) for e in failures)
    assert all(secret_free(e, KEY.removeprefix("test_")) for e in failures)
