from __future__ import annotations

import httpx
import pytest

from fluxbilling import errors
from fluxbilling.drivers.upstream import (
    Exchange,
    ExchangeRecorder,
    UpstreamHttp,
    classify_response,
    json_object,
    parse_retry_after,
    upstream_call,
)

pytestmark = pytest.mark.anyio


def client(handler: httpx.MockTransport, base: str = "https://panel.test/api/v1/") -> UpstreamHttp:
    return UpstreamHttp(
        "panel",
        base,
        headers={"Authorization": "Bearer tok-SECRET1"},
        secrets=["tok-SECRET1"],
        transport=handler,
    )


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504])
def test_transient_statuses(status: int) -> None:
    assert isinstance(classify_response("p", "op", status, ""), errors.TransientUpstreamError)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 405, 410, 422])
def test_permanent_statuses(status: int) -> None:
    assert isinstance(classify_response("p", "op", status, ""), errors.PermanentUpstreamError)


def test_retry_after_forms() -> None:
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now_epoch=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None


async def test_a_429_carries_retry_after_and_the_exchange_is_recorded_redacted() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429, headers={"Retry-After": "30"}, json={"message": "slow down tok-SECRET1"}
        )

    http = client(httpx.MockTransport(handler))
    with pytest.raises(errors.TransientUpstreamError) as caught:
        await http.request(
            "POST",
            "servers",
            operation="create server",
            json_body={"password": "p4ss", "name": "a"},
        )
    assert caught.value.retry_after == 30.0 and caught.value.status == 429
    assert "tok-SECRET1" not in str(caught.value)
    exchange = http.recorder.last
    assert exchange is not None
    doc = exchange.to_dict()
    assert doc["request"]["body"] == {"password": "***", "name": "a"}
    assert {k.lower(): v for k, v in doc["request"]["headers"].items()}["authorization"] == "***"
    assert doc["response"]["body"] == {"message": "slow down ***"}
    await http.aclose()


@pytest.mark.parametrize(
    ("exc", "cls"),
    [
        (httpx.ReadTimeout("slow"), errors.TransientUpstreamError),
        (httpx.ConnectError("refused"), errors.TransientUpstreamError),
        (httpx.ConnectError("[SSL: CERTIFICATE_VERIFY_FAILED]"), errors.PermanentUpstreamError),
        (httpx.RemoteProtocolError("reset"), errors.TransientUpstreamError),
    ],
)
async def test_transport_failures_are_classified(
    exc: Exception, cls: type[errors.UpstreamError]
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    http = client(httpx.MockTransport(handler))
    with pytest.raises(cls) as caught:
        await http.request("GET", "servers", operation="list servers")
    assert caught.value.__cause__ is exc
    await http.aclose()


@pytest.mark.parametrize(
    "path",
    [
        "../../admin",
        "https://evil.test/x",
        "servers/../../../admin",
        "http://panel.test/api/v1/servers",
    ],
)
async def test_paths_cannot_leave_the_base_url(path: str) -> None:
    http = client(httpx.MockTransport(lambda r: httpx.Response(200)))
    with pytest.raises(errors.PermanentUpstreamError, match="leaves the connection's base URL"):
        await http.request("GET", path, operation="probe")
    await http.aclose()


async def test_paths_under_the_base_url_are_fine() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json={"data": []})

    http = client(httpx.MockTransport(handler))
    await http.request("GET", "/servers", operation="list", params={"filter[search]": "a"})
    assert seen == ["https://panel.test/api/v1/servers?filter%5Bsearch%5D=a"]
    await http.aclose()


def test_a_leading_slash_is_relative_to_the_base_url() -> None:
    http = client(httpx.MockTransport(lambda r: httpx.Response(200)))
    assert http.resolve("/etc/passwd") == "https://panel.test/api/v1/etc/passwd"
    assert http.resolve("//evil.test/x") == "https://panel.test/api/v1/evil.test/x"


def test_unclassified_errors_are_our_bugs() -> None:
    with pytest.raises(errors.InvariantViolation) as caught, upstream_call("panel", "parse"):
        raise KeyError("id")
    assert isinstance(caught.value.__cause__, KeyError)


async def test_an_answer_nested_too_deep_is_a_permanent_error_not_a_crash() -> None:
    deep = b"[" * 100_000 + b"]" * 100_000

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, content=deep)

    http = client(httpx.MockTransport(handler))
    response = await http.request("GET", "servers", operation="list servers")
    await http.aclose()
    with pytest.raises(errors.PermanentUpstreamError, match="without a JSON object"):
        json_object("panel", "list servers", response)


def test_the_recorder_keeps_the_latest_exchanges_of_an_attempt() -> None:
    recorder = ExchangeRecorder(keep=2)
    made = [
        Exchange("acme", f"step {i}", "GET", f"https://acme.test/{i}", {}, None) for i in range(3)
    ]
    for exchange in made:
        recorder.record(exchange)
    assert recorder.last is made[-1]
    assert [e["operation"] for e in recorder.exchanges] == ["step 1", "step 2"]
    assert recorder.dropped == 1
