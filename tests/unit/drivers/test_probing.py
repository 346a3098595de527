"""The connection test's verdict: what the probe's answer means, and how little of it is shown."""

from __future__ import annotations

from typing import Any

import httpx

from fluxbilling.drivers import probing
from fluxbilling.drivers.connection_types import Probe


def test_a_snippet_is_one_short_line() -> None:
    assert probing.snippet("a\r\n  b\tc") == "a b c"
    long = probing.snippet({"data": ["x" * 50] * 10})
    assert len(long) == probing.SNIPPET and long.endswith("…")


def test_trimmed_keeps_status_content_type_and_a_snippet_only() -> None:
    exchange: dict[str, Any] = {
        "request": {"method": "GET", "url": "https://panel.test/plans"},
        "response": {
            "status": 200,
            "headers": {"Content-Type": "text/html", "Set-Cookie": "***", "Server": "nginx"},
            "body": "<html>" + "internal page " * 100,
        },
        "error": None,
    }
    shown = probing.trimmed(exchange)
    assert shown["request"] == {"method": "GET", "url": "https://panel.test/plans"}
    assert shown["response"]["status"] == 200
    assert shown["response"]["headers"] == {"Content-Type": "text/html"}
    assert len(shown["response"]["body"]) == probing.SNIPPET
    refused = probing.trimmed({"response": {"status": None, "headers": {}, "body": None}})
    assert refused["response"] == {"status": None, "headers": {}, "body": None}


def test_verdicts() -> None:
    whm = Probe("version", ok_path="metadata.result", ok_values=(1,), error_path="metadata.reason")
    ok = httpx.Response(200, json={"metadata": {"result": 1}})
    assert probing.verdict(whm, ok) == (True, "HTTP 200")
    no = httpx.Response(200, json={"metadata": {"result": 0, "reason": "Access denied"}})
    assert probing.verdict(whm, no) == (False, "the vendor refused: Access denied")
    virtualizor = Probe("index.php", error_path="error")
    failed = httpx.Response(200, json={"error": ["bad key"]})
    assert probing.verdict(virtualizor, failed) == (
        False,
        'the vendor answered an error: ["bad key"]',
    )
    assert probing.verdict(virtualizor, httpx.Response(200, text="not json")) == (True, "HTTP 200")


def test_a_probe_answer_nested_too_deep_reads_as_no_answer() -> None:
    deep = httpx.Response(200, content=b'{"status": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    probe = Probe("whoami", ok_path="status", ok_values=("ok",))
    assert probing.verdict(probe, deep) == (False, "the vendor refused: no answer")
    assert probing.verdict(probe, httpx.Response(200, json={"status": "ok"})) == (True, "HTTP 200")
