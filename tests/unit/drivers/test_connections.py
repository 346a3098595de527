"""Reading a connection probe's answer: a hostile vendor answer is a verdict, not a crash."""

from __future__ import annotations

import httpx

from fluxbilling.drivers.connection_types import Probe
from fluxbilling.drivers.connections import _probe_verdict


def test_a_probe_answer_nested_too_deep_reads_as_no_answer() -> None:
    deep = httpx.Response(200, content=b'{"status": ' + b"[" * 100_000 + b"]" * 100_000 + b"}")
    probe = Probe("whoami", ok_path="status", ok_values=("ok",))
    assert _probe_verdict(probe, deep) == (False, "the vendor refused: no answer")
    assert _probe_verdict(probe, httpx.Response(200, json={"status": "ok"})) == (True, "HTTP 200")
