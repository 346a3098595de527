"""The Mollie simulator speaks Mollie's API shapes, moves payments on demand, injects faults,
and its notifier calls webhooks like Mollie: classic pings and signed next-gen events."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from fluxbilling import errors
from fluxbilling.billing.gateways.mollie import events as mollie_events
from fluxbilling.billing.gateways.mollie import verify as mollie_verify
from fluxbilling_simulators import _faults
from fluxbilling_simulators import mollie as mollie_sim
from fluxbilling_simulators._faults import Faults
from fluxbilling_simulators.mollie import MollieNotifier, MollieState, create_app
from tests.httpsupport import asgi_client

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 26, 10, 0, tzinfo=UTC)
KEY = "test_dHar4XY7LxsDOtmnkVtjNVWXLSlXsM"
LIVE_KEY = "live_4BBB6H4s2jGi3ajsx4E2KqY5sxSXaRV"
HOOK = "https://shop.test/webhooks/mollie"
NEXT_GEN = "https://shop.test/webhooks/mollie-next"
SECRET = "nextgen-secret-current"
BODY: dict[str, Any] = {
    "amount": {"currency": "EUR", "value": "10.00"},
    "description": "Invoice 42",
    "redirectUrl": "https://shop.test/return/42",
    "webhookUrl": HOOK,
    "metadata": {"invoice_id": "42"},
}


@pytest.fixture
def state() -> MollieState:
    return MollieState(faults=Faults(timeout_delay=0.01, seed=1), seed=7, clock=lambda: NOW)


@pytest.fixture
async def api(state: MollieState) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {KEY}"}
    async with asgi_client(create_app(state), "http://mollie.sim/", headers=headers) as client:
        yield client


async def create(api: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    response = await api.post("v2/payments", json={**BODY, **changes})
    assert response.status_code == 201, response.text
    payment: dict[str, Any] = response.json()
    return payment


class Receiver:
    """A fake webhook endpoint: records every request, answers `status`."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []
        self.status = 200

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status)

    def bodies(self) -> list[bytes]:
        return [r.content for r in self.requests]


@pytest.fixture
def receiver() -> Receiver:
    return Receiver()


@pytest.fixture
async def notifier(state: MollieState, receiver: Receiver) -> AsyncIterator[MollieNotifier]:
    client = httpx.AsyncClient(transport=httpx.MockTransport(receiver))
    notifier = MollieNotifier(
        state,
        client,
        next_gen_url=NEXT_GEN,
        next_gen_secrets=["nextgen-secret-new", SECRET],
    )
    yield notifier
    await notifier.aclose()


# --- authentication -------------------------------------------------------------------

UNAUTHORIZED = {
    "status": 401,
    "title": "Unauthorized Request",
    "detail": "Missing authentication, or failed to authenticate",
    "_links": {
        "documentation": {
            "href": "https://docs.mollie.com/overview/authentication",
            "type": "text/html",
        }
    },
}


@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer", "Bearer abc", "Basic test_abc", "Bearer test_", "Bearer prod_abc"],
)
async def test_bad_credentials_are_401_in_mollies_shape(
    api: httpx.AsyncClient, authorization: str | None
) -> None:
    headers = {} if authorization is None else {"Authorization": authorization}
    api.headers.pop("Authorization")
    response = await api.get("v2/payments/tr_x", headers=headers)
    assert (response.status_code, response.json()) == (401, UNAUTHORIZED)
    assert response.headers["content-type"] == "application/hal+json"


async def test_an_allow_list_restricts_the_keys(state: MollieState, api: httpx.AsyncClient) -> None:
    state.api_keys = frozenset({LIVE_KEY})
    assert (await api.get("v2/payments/tr_x")).status_code == 401
    live = {"Authorization": f"Bearer {LIVE_KEY}"}
    assert (await api.get("v2/payments/tr_x", headers=live)).status_code == 404


# --- create ---------------------------------------------------------------------------


async def test_create_answers_an_open_payment(api: httpx.AsyncClient) -> None:
    payment = await create(api)
    token = payment["id"].removeprefix("tr_")
    assert payment["id"].startswith("tr_") and len(token) == 10
    assert {k: payment[k] for k in ("resource", "mode", "status", "amount", "metadata")} == {
        "resource": "payment",
        "mode": "test",
        "status": "open",
        "amount": {"currency": "EUR", "value": "10.00"},
        "metadata": {"invoice_id": "42"},
    }
    assert payment["createdAt"] == "2026-11-26T10:00:00+00:00"
    assert payment["expiresAt"] == "2026-11-26T10:15:00+00:00"
    assert payment["webhookUrl"] == HOOK
    links = payment["_links"]
    assert links["self"]["href"] == f"http://mollie.sim/v2/payments/{payment['id']}"
    assert links["checkout"] == {
        "href": f"http://mollie.sim/checkout/select-method/{token}",
        "type": "text/html",
    }


async def test_a_live_key_creates_live_payments_invisible_to_test_keys(
    api: httpx.AsyncClient,
) -> None:
    live = {"Authorization": f"Bearer {LIVE_KEY}"}
    response = await api.post("v2/payments", json=BODY, headers=live)
    payment = response.json()
    assert payment["mode"] == "live"
    assert (await api.get(f"v2/payments/{payment['id']}")).status_code == 404
    assert (await api.get(f"v2/payments/{payment['id']}", headers=live)).status_code == 200


@pytest.mark.parametrize(
    ("changes", "field", "detail"),
    [
        ({"amount": None}, "amount", "The amount is required."),
        ({"amount": {"currency": "XBT", "value": "1.00"}}, "amount.currency", None),
        ({"amount": {"currency": "EUR", "value": "10.5"}}, "amount.value", None),
        ({"amount": {"currency": "EUR", "value": 10}}, "amount.value", None),
        ({"amount": {"currency": "JPY", "value": "10.00"}}, "amount.value", None),
        ({"amount": {"currency": "EUR", "value": "0.00"}}, "amount", None),
        (
            {"amount": {"currency": "EUR", "value": "1000000000.00"}},
            "amount",
            "The amount is higher than the maximum",
        ),
        ({"description": ""}, "description", "The description is required."),
        ({"description": "x" * 256}, "description", None),
        ({"redirectUrl": None}, "redirectUrl", None),
        ({"redirectUrl": "shop.test/return"}, "redirectUrl", None),
        ({"webhookUrl": "ftp://shop.test/hook"}, "webhookUrl", None),
        ({"metadata": {"blob": "x" * 1100}}, "metadata", None),
    ],
)
async def test_invalid_bodies_are_422_naming_the_field(
    api: httpx.AsyncClient,
    state: MollieState,
    changes: dict[str, Any],
    field: str,
    detail: str | None,
) -> None:
    response = await api.post("v2/payments", json={**BODY, **changes})
    assert response.status_code == 422
    error = response.json()
    assert (error["status"], error["title"], error["field"]) == (422, "Unprocessable Entity", field)
    if detail is not None:
        assert error["detail"] == detail
    assert state.payments == {}


async def test_yen_amounts_have_no_decimals(api: httpx.AsyncClient) -> None:
    payment = await create(api, amount={"currency": "JPY", "value": "1500"})
    assert payment["amount"] == {"currency": "JPY", "value": "1500"}


async def test_webhook_url_is_optional(api: httpx.AsyncClient) -> None:
    payment = await create(api, webhookUrl=None)
    assert "webhookUrl" not in payment


async def test_private_webhook_urls_can_be_rejected_like_mollie(
    state: MollieState, api: httpx.AsyncClient
) -> None:
    state.reject_private_webhooks = True
    for url in ("http://localhost:8000/hook", "http://10.0.0.5/hook", "http://shop.local/x"):
        response = await api.post("v2/payments", json={**BODY, "webhookUrl": url})
        assert response.json()["detail"] == (
            "The webhook URL is invalid because it is unreachable from Mollie's point of view."
        )
    await create(api)


@pytest.mark.parametrize("content", [b"{not json", b"[1, 2]"])
async def test_a_body_that_is_not_a_json_object_is_400(
    api: httpx.AsyncClient, content: bytes
) -> None:
    response = await api.post("v2/payments", content=content)
    assert (response.status_code, response.json()["title"]) == (400, "Bad Request")


# --- idempotency ----------------------------------------------------------------------


async def test_same_idempotency_key_replays_the_same_payment(
    api: httpx.AsyncClient, state: MollieState
) -> None:
    headers = {"Idempotency-Key": "invoice-42-attempt-1"}
    first = await api.post("v2/payments", json=BODY, headers=headers)
    again = await api.post("v2/payments", json=BODY, headers=headers)
    assert again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert len(state.payments) == 1


async def test_keys_are_scoped_to_the_api_key_and_optional(
    api: httpx.AsyncClient, state: MollieState
) -> None:
    headers = {"Idempotency-Key": "k"}
    await api.post("v2/payments", json=BODY, headers=headers)
    live = {**headers, "Authorization": f"Bearer {LIVE_KEY}"}
    await api.post("v2/payments", json=BODY, headers=live)
    await create(api)
    await create(api)
    assert len(state.payments) == 4


async def test_a_crash_after_create_is_recovered_by_the_same_key(
    api: httpx.AsyncClient, state: MollieState
) -> None:
    state.faults.crash_next_create()
    headers = {"Idempotency-Key": "k-crash"}
    crashed = await api.post("v2/payments", json=BODY, headers=headers)
    assert crashed.status_code == 503
    assert crashed.json()["title"] == "Service Unavailable"
    retried = await api.post("v2/payments", json=BODY, headers=headers)
    assert retried.status_code == 201
    assert list(state.payments) == [retried.json()["id"]]


# --- faults ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
async def test_forced_failures_use_mollies_error_shape(
    api: httpx.AsyncClient, state: MollieState, status: int
) -> None:
    state.faults.fail_next(1, status)
    failed = await api.post("v2/payments", json=BODY)
    assert failed.status_code == status
    assert set(failed.json()) == {"status", "title", "detail", "_links"}
    assert state.payments == {}
    await create(api)


async def test_a_timeout_is_slow_but_still_processed(
    api: httpx.AsyncClient, state: MollieState
) -> None:
    state.faults.fail_next(1, "timeout")
    await create(api)
    assert len(state.payments) == 1


async def test_a_duplicate_call_can_be_refused_with_409(
    api: httpx.AsyncClient, state: MollieState
) -> None:
    state.faults.exists_next()
    response = await api.post("v2/payments", json=BODY)
    assert (response.status_code, response.json()["title"]) == (409, "Conflict")
    assert state.payments == {}


async def test_random_failures_are_seeded(api: httpx.AsyncClient, state: MollieState) -> None:
    state.faults = Faults(fail_rate=0.5, timeout_delay=0.0, seed=4)
    statuses = [(await api.get("v2/payments/tr_x")).status_code for _ in range(12)]
    state.faults = Faults(fail_rate=0.5, timeout_delay=0.0, seed=4)
    assert statuses == [(await api.get("v2/payments/tr_x")).status_code for _ in range(12)]
    assert {500, 503} & set(statuses) and 404 in statuses
    assert state.requests == 24


# --- get, embeds, transitions ---------------------------------------------------------


async def test_unknown_payment_is_mollies_404(api: httpx.AsyncClient) -> None:
    response = await api.get("v2/payments/tr_I_dont_exist")
    assert response.status_code == 404
    assert response.json()["detail"] == "No payment exists with token tr_I_dont_exist."


async def test_paying_sets_paid_fields_and_drops_the_checkout(
    api: httpx.AsyncClient, state: MollieState
) -> None:
    payment = await create(api)
    state.pay(payment["id"], method="ideal")
    paid = (await api.get(f"v2/payments/{payment['id']}")).json()
    assert (paid["status"], paid["method"], paid["paidAt"]) == ("paid", "ideal", NOW.isoformat())
    assert paid["amountRefunded"] == {"value": "0.00", "currency": "EUR"}
    assert paid["amountRemaining"] == {"value": "10.00", "currency": "EUR"}
    assert "checkout" not in paid["_links"] and "expiresAt" not in paid
    assert mollie_events.classify(paid)[0].kind == "paid"


@pytest.mark.parametrize(
    ("helper", "status", "stamp"),
    [
        (MollieState.fail, "failed", "failedAt"),
        (MollieState.expire, "expired", "expiredAt"),
        (MollieState.cancel, "canceled", "canceledAt"),
        (MollieState.authorize, "authorized", "authorizedAt"),
        (MollieState.mark_pending, "pending", None),
    ],
)
async def test_status_helpers(
    api: httpx.AsyncClient, state: MollieState, helper: Any, status: str, stamp: str | None
) -> None:
    payment = await create(api)
    helper(state, payment["id"])
    fetched = (await api.get(f"v2/payments/{payment['id']}")).json()
    assert fetched["status"] == status
    if stamp is not None:
        assert fetched[stamp] == NOW.isoformat()


async def test_final_statuses_do_not_move(api: httpx.AsyncClient, state: MollieState) -> None:
    payment = await create(api)
    state.expire(payment["id"])
    with pytest.raises(errors.Conflict, match="a expired payment cannot become paid"):
        state.pay(payment["id"])
    with pytest.raises(errors.Conflict):
        state.refund(payment["id"])
    with pytest.raises(errors.NotFound):
        state.pay("tr_missing")


async def test_refunds_and_chargebacks_are_embedded_on_request(
    api: httpx.AsyncClient, state: MollieState
) -> None:
    pid = (await create(api))["id"]
    state.pay(pid)
    url = f"v2/payments/{pid}"
    assert "_embedded" not in (await api.get(url, params={"embed": "refunds,chargebacks"})).json()
    partial = state.refund(pid, 250, description="goodwill")
    full = state.refund(pid)
    assert (partial["amount"]["value"], full["amount"]["value"]) == ("2.50", "7.50")
    with pytest.raises(errors.Conflict, match="exceeds the remaining 0"):
        state.refund(pid, 1)
    state.set_refund_status(full["id"], "failed")
    back = state.chargeback(pid, 500)
    plain = (await api.get(url)).json()
    assert "_embedded" not in plain
    assert plain["amountRefunded"] == {"value": "2.50", "currency": "EUR"}
    assert plain["amountChargedBack"] == {"value": "5.00", "currency": "EUR"}
    assert plain["amountRemaining"] == {"value": "2.50", "currency": "EUR"}
    only_refunds = (await api.get(url, params={"embed": "refunds"})).json()["_embedded"]
    assert [r["id"] for r in only_refunds["refunds"]] == [partial["id"], full["id"]]
    assert "chargebacks" not in only_refunds
    both = (await api.get(url, params={"embed": "refunds,chargebacks"})).json()
    assert [c["id"] for c in both["_embedded"]["chargebacks"]] == [back["id"]]
    assert back["id"].startswith("chb_") and partial["id"].startswith("re_")
    facts = mollie_events.classify(both)
    assert [(f.kind, f.amount_minor, f.gateway_object_id) for f in facts] == [
        ("paid", 1000, pid),
        ("refund", 250, partial["id"]),
        ("refund", 0, full["id"]),
        ("dispute", 500, back["id"]),
    ]
    state.reverse_chargeback(back["id"])
    reversed_ = (await api.get(url)).json()
    assert reversed_["amountChargedBack"] == {"value": "0.00", "currency": "EUR"}
    assert reversed_["status"] == "paid"


async def test_unknown_refunds_and_chargebacks(state: MollieState) -> None:
    with pytest.raises(errors.NotFound):
        state.set_refund_status("re_missing", "refunded")
    with pytest.raises(errors.Conflict):
        state.set_refund_status("re_missing", "done")
    with pytest.raises(errors.NotFound):
        state.reverse_chargeback("chb_missing")


async def test_sub_resource_lists(api: httpx.AsyncClient, state: MollieState) -> None:
    pid = (await create(api))["id"]
    state.pay(pid)
    refund = state.refund(pid, 100)
    listed = (await api.get(f"v2/payments/{pid}/refunds")).json()
    assert listed["count"] == 1
    assert listed["_embedded"]["refunds"][0]["id"] == refund["id"]
    assert listed["_embedded"]["refunds"][0]["_links"]["payment"]["href"].endswith(pid)
    assert (await api.get(f"v2/payments/{pid}/chargebacks")).json()["count"] == 0
    assert (await api.get(f"v2/payments/{pid}/captures")).status_code == 404
    assert (await api.get("v2/payments/tr_nope/refunds")).status_code == 404


async def test_refund_creation_is_idempotent_and_validated(
    api: httpx.AsyncClient, state: MollieState
) -> None:
    pid = (await create(api))["id"]
    state.pay(pid)
    url, amount = f"v2/payments/{pid}/refunds", {"currency": "EUR", "value": "2.00"}
    key = {"Idempotency-Key": "refund-1"}
    first = await api.post(url, json={"amount": amount}, headers=key)
    again = await api.post(url, json={"amount": {**amount, "value": "3.00"}}, headers=key)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.headers["Idempotent-Replayed"] == "true"
    assert again.json()["id"] == first.json()["id"]
    assert len(state.refunds[pid]) == 1
    assert first.headers["content-type"] == "application/hal+json"
    long_text = {"amount": amount, "description": "x" * 141}
    assert (await api.post(url, json=long_text)).json()["field"] == "description"
    not_text = {"amount": amount, "description": 7}
    assert (await api.post(url, json=not_text)).json()["field"] == "description"
    big = {"amount": amount, "metadata": {"blob": "x" * 1100}}
    assert (await api.post(url, json=big)).json()["field"] == "metadata"
    assert (await api.post(url, content=b"{nope")).status_code == 400
    assert (await api.post(url, json=[amount])).status_code == 400
    assert (await api.post("v2/payments/tr_nope/refunds", json={"amount": amount})).status_code == (
        404
    )


async def test_refund_and_chargeback_lookups_of_unknown_ids(
    api: httpx.AsyncClient, state: MollieState
) -> None:
    pid = (await create(api))["id"]
    for path in (
        "v2/payments/tr_nope/refunds/re_x",
        f"v2/payments/{pid}/refunds/re_nope",
        "v2/payments/tr_nope/chargebacks/chb_x",
        f"v2/payments/{pid}/chargebacks/chb_nope",
    ):
        missing = await api.get(path)
        assert (missing.status_code, missing.json()["title"]) == (404, "Not Found"), path
    assert (await api.delete("v2/payments/tr_nope/refunds/re_x")).status_code == 404
    gone = await api.delete(f"v2/payments/{pid}/refunds/re_nope")
    assert gone.json()["detail"] == "No refund exists with token re_nope."
    with pytest.raises(errors.NotFound):
        state.cancel_refund(pid, "re_nope")


async def test_list_cursors_are_checked(api: httpx.AsyncClient) -> None:
    await create(api)
    for query in ({"limit": "many"}, {"limit": "0"}, {"from": "tr_nope"}):
        refused = await api.get("v2/payments", params=query)
        assert (refused.status_code, refused.json()["status"]) == (400, 400), query
    own = await api.get("v2/payments", params={"limit": "1", "embed": "refunds"})
    assert own.json()["_links"]["self"]["href"].endswith("/v2/payments?limit=1&embed=refunds")


async def test_chargebacks_need_a_paid_payment(api: httpx.AsyncClient, state: MollieState) -> None:
    pid = (await create(api))["id"]
    with pytest.raises(errors.Conflict):
        state.chargeback(pid)


# --- checkout page, controls, state dump ----------------------------------------------


async def test_checkout_page_lets_a_person_pick_the_outcome(
    state: MollieState, notifier: MollieNotifier, receiver: Receiver
) -> None:
    headers = {"Authorization": f"Bearer {KEY}"}
    app = create_app(state, notifier)
    async with asgi_client(app, "http://mollie.sim/", headers=headers) as client:
        payment = await create(client)
        href = payment["_links"]["checkout"]["href"]
        page = await client.get(href)
        assert page.status_code == 200 and "Invoice 42" in page.text
        assert (await client.post(href, data={"status": "bogus"})).status_code == 400
        done = await client.post(href, data={"status": "paid"})
        assert (done.status_code, done.headers["location"]) == (303, BODY["redirectUrl"])
        again = await client.post(href, data={"status": "failed"})
        assert again.status_code == 303
        assert (await client.get("checkout/select-method/nope")).status_code == 404
    assert state.payments[payment["id"]]["status"] == "paid"
    assert receiver.bodies().count(f"id={payment['id']}".encode()) == 1


async def test_sim_controls_drive_the_state_from_outside(
    api: httpx.AsyncClient, state: MollieState
) -> None:
    pid = (await create(api))["id"]
    assert (await api.post(f"_sim/payments/{pid}/pay")).json()["status"] == "paid"
    refund = await api.post(f"_sim/payments/{pid}/refund", json={"amount_minor": 300})
    assert refund.json()["amount"]["value"] == "3.00"
    assert (await api.post(f"_sim/payments/{pid}/pay")).status_code == 409
    assert (await api.post("_sim/payments/tr_nope/pay")).status_code == 404
    assert (await api.post(f"_sim/payments/{pid}/explode")).status_code == 404
    assert (await api.post(f"_sim/payments/{pid}/refund", content=b"{")).status_code == 400
    dump = (await api.get("_sim/state")).json()
    assert [p["id"] for p in dump["payments"]] == [pid]
    assert dump["payments"][0]["_embedded"]["refunds"][0]["id"] == refund.json()["id"]
    assert dump["changes"] == [
        {"payment_id": pid, "event": "payment.paid"},
        {"payment_id": pid, "event": "refund.pending"},
    ]
    assert state.dump()["requests"] == 1


# --- notifier -------------------------------------------------------------------------


async def test_classic_ping_is_exactly_mollies(
    api: httpx.AsyncClient, state: MollieState, notifier: MollieNotifier, receiver: Receiver
) -> None:
    notifier.next_gen_url = None
    pid = (await create(api))["id"]
    state.pay(pid)
    [delivery] = await notifier.flush()
    assert delivery.ok and delivery.status == 200
    [request] = receiver.requests
    assert (request.method, str(request.url), request.content) == (
        "POST",
        HOOK,
        f"id={pid}".encode(),
    )
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.headers["User-Agent"] == "Mollie HTTP client/1.0"
    assert mollie_events.parse_notification(request.content, request.headers["Content-Type"]) == pid


async def test_only_notified_changes_ping(
    api: httpx.AsyncClient, state: MollieState, notifier: MollieNotifier, receiver: Receiver
) -> None:
    notifier.next_gen_url = None
    silent = (await create(api, webhookUrl=None))["id"]
    pid = (await create(api))["id"]
    state.mark_pending(pid)
    state.pay(silent)
    assert await notifier.flush() == []
    state.pay(pid)
    state.refund(pid, 100)
    state.chargeback(pid, 100)
    events = [n.event for n in notifier.collect()]
    assert events == ["payment.paid", "refund.pending", "chargeback.received"]
    await notifier.flush()
    assert receiver.bodies() == [f"id={pid}".encode()] * 3


async def test_next_gen_events_are_signed_per_secret(
    api: httpx.AsyncClient, state: MollieState, notifier: MollieNotifier, receiver: Receiver
) -> None:
    pid = (await create(api))["id"]
    state.pay(pid)
    state.refund(pid, 100)
    deliveries = await notifier.flush()
    assert [(d.notification.kind, d.notification.event) for d in deliveries] == [
        ("classic", "payment.paid"),
        ("next-gen", "payment.paid"),
        ("classic", "refund.pending"),
    ]
    request = receiver.requests[1]
    assert str(request.url) == NEXT_GEN
    signatures = request.headers.get_list("X-Mollie-Signature")
    assert len(signatures) == 2
    mollie_verify.verify_signature(request.content, signatures, [SECRET])
    with pytest.raises(errors.InvalidWebhook):
        mollie_verify.verify_signature(request.content, signatures, ["not-our-secret"])
    event = mollie_events.parse_event(request.content)
    assert (event.type, event.entity_id) == ("payment.paid", pid)
    assert event.id.startswith("event_")
    assert event.created_at == "2026-11-26T10:00:00+00:00"
    assert event.entity is not None and event.entity["status"] == "paid"
    assert [f.kind for f in mollie_events.classify(event.entity)] == ["paid"]


async def test_simple_payload_and_unsubscribed_types(
    api: httpx.AsyncClient, state: MollieState, notifier: MollieNotifier, receiver: Receiver
) -> None:
    notifier.full_payload = False
    notifier.next_gen_events = frozenset({"payment.paid"})
    first, second = (await create(api))["id"], (await create(api))["id"]
    state.pay(first)
    state.fail(second)
    kinds = [(d.notification.kind, d.notification.event) for d in await notifier.flush()]
    assert kinds == [
        ("classic", "payment.paid"),
        ("next-gen", "payment.paid"),
        ("classic", "payment.failed"),
    ]
    assert mollie_events.parse_event(receiver.requests[1].content).entity is None


async def test_reorder_delivers_a_stale_event_last(
    api: httpx.AsyncClient, state: MollieState, notifier: MollieNotifier, receiver: Receiver
) -> None:
    pid = (await create(api, webhookUrl=None))["id"]
    state.authorize(pid)
    state.pay(pid)
    queued = notifier.collect()
    assert [n.event for n in queued] == ["payment.authorized", "payment.paid"]
    await notifier.flush(order=[1, 0])
    events = [mollie_events.parse_event(body) for body in receiver.bodies()]
    assert [e.type for e in events] == ["payment.paid", "payment.authorized"]
    # The late event still carries the snapshot of its time: receivers must re-fetch.
    assert [e.entity["status"] for e in events if e.entity] == ["paid", "authorized"]
    assert notifier.queue == []


async def test_partial_flush_keeps_the_rest_queued(
    api: httpx.AsyncClient, state: MollieState, notifier: MollieNotifier, receiver: Receiver
) -> None:
    notifier.next_gen_url = None
    first, second = (await create(api))["id"], (await create(api))["id"]
    state.pay(first)
    state.pay(second)
    await notifier.flush(order=[-1])
    assert receiver.bodies() == [f"id={second}".encode()]
    assert [n.payment_id for n in notifier.queue] == [first]
    for bad in ([1], [0, 0], [-2]):
        with pytest.raises(errors.NotFound):
            await notifier.flush(order=bad)
    await notifier.flush()
    assert receiver.bodies()[-1] == f"id={first}".encode()


async def test_dropped_notifications_never_arrive(
    api: httpx.AsyncClient, state: MollieState, notifier: MollieNotifier, receiver: Receiver
) -> None:
    notifier.next_gen_url = None
    pid = (await create(api))["id"]
    state.pay(pid)
    state.refund(pid, 100)
    lost = notifier.drop(0)
    assert [n.event for n in lost] == ["payment.paid"]
    await notifier.flush()
    assert len(receiver.requests) == 1
    state.chargeback(pid)
    assert len(notifier.drop()) == 1
    assert await notifier.flush() == []
    assert [n.event for n in notifier.dropped] == ["payment.paid", "chargeback.received"]


async def test_redeliver_sends_the_same_bytes_again(
    api: httpx.AsyncClient, state: MollieState, notifier: MollieNotifier, receiver: Receiver
) -> None:
    pid = (await create(api))["id"]
    state.pay(pid)
    await notifier.flush()
    duplicate = await notifier.redeliver()
    first = await notifier.redeliver(0)
    assert duplicate.notification.kind == "next-gen"
    assert receiver.requests[2].content == receiver.requests[1].content
    assert receiver.requests[2].headers.get_list("X-Mollie-Signature") == (
        receiver.requests[1].headers.get_list("X-Mollie-Signature")
    )
    assert first.notification.body == f"id={pid}".encode()
    assert len(notifier.deliveries) == 4


@pytest.mark.parametrize(("status", "ok"), [(200, True), (201, False), (204, False), (500, False)])
async def test_only_200_counts_as_delivered(
    notifier: MollieNotifier, receiver: Receiver, status: int, ok: bool
) -> None:
    receiver.status = status
    delivery = await notifier.deliver(notifier.classic("tr_forged", HOOK))
    assert (delivery.status, delivery.ok) == (status, ok)


async def test_an_unreachable_receiver_is_recorded(state: MollieState) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    notifier = MollieNotifier(state, httpx.AsyncClient(transport=httpx.MockTransport(refuse)))
    delivery = await notifier.deliver(notifier.classic("tr_x", HOOK))
    await notifier.aclose()
    assert (delivery.status, delivery.error, delivery.ok) == (None, "ConnectError", False)


async def test_main_wires_options_into_the_served_app(monkeypatch: pytest.MonkeyPatch) -> None:
    served: list[tuple[Any, Any]] = []
    monkeypatch.setattr(_faults, "serve", lambda app, args: served.append((app, args)))
    argv = ["--port", "9999", "--api-key", KEY, "--reject-private-webhooks"]
    mollie_sim.main(argv)
    [(app, args)] = served
    assert args.port == 9999
    async with asgi_client(app, "http://mollie.sim/") as client:
        other = {"Authorization": f"Bearer {LIVE_KEY}"}
        assert (await client.get("v2/payments/tr_x", headers=other)).status_code == 401
        ours = {"Authorization": f"Bearer {KEY}"}
        local = {**BODY, "webhookUrl": "http://127.0.0.1:8000/hook"}
        rejected = await client.post("v2/payments", json=local, headers=ours)
        assert (rejected.status_code, rejected.json()["field"]) == (422, "webhookUrl")
