"""The pure parts of bounded delivery storage: what is kept of a body, a header, a reason."""

from __future__ import annotations

import hashlib

from fluxbilling.billing import deliveries
from fluxbilling.billing.webhooks import malformed


def test_a_small_body_is_kept_whole() -> None:
    assert deliveries.cut(b"id=tr_1", 4096) == deliveries.Cut(b"id=tr_1")


def test_a_large_body_keeps_its_start_size_and_digest() -> None:
    body = b"x" * 10_000
    assert deliveries.cut(body, 16) == deliveries.Cut(
        b"x" * 16, 10_000, hashlib.sha256(body).hexdigest()
    )
    assert deliveries.cut(body, 0).body == b""


def test_text_for_a_column_has_no_nul_no_lone_surrogate_and_a_length() -> None:
    assert deliveries.column_text("field 'k\x00ey'") == "field 'k\\x00ey'"
    assert deliveries.column_text("a\udc80b") == "a\\udc80b"
    assert deliveries.column_text("é" * 10, 4) == "éééé"


def test_headers_of_a_refused_delivery_are_masked_and_bounded() -> None:
    headers = {f"x-h{i}": "v" * 1000 for i in range(100)}
    headers = {"Authorization": "Bearer secret", **headers}
    trimmed = deliveries.trimmed_headers(headers)
    assert len(trimmed) == 64
    assert trimmed["Authorization"] == "***"
    assert {len(v) for k, v in trimmed.items() if k != "Authorization"} == {512}
    assert deliveries.stored_headers(headers)["x-h99"] == "v" * 1000


def test_anything_unexpected_on_an_untrusted_body_means_malformed() -> None:
    for exc in (
        RecursionError(),
        KeyError("id"),
        TypeError(),
        UnicodeDecodeError("utf-8", b"", 0, 1, "x"),
    ):
        refused = malformed(exc)
        assert refused.message == f"malformed: {type(exc).__name__} while reading the notification"
        assert refused.details == {"error": type(exc).__name__}
