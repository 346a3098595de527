"""Redaction: a secret is masked in the forms it leaves the process in."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from fluxbilling.redaction import MASK, Redactor

SECRET = 'p@ss "word"/1+ü'


def test_a_secret_is_masked_as_written_encoded_and_json_escaped() -> None:
    redactor = Redactor([SECRET])
    for leaked in (
        f"token {SECRET}",
        "https://panel.test/api?" + urlencode({"key": SECRET}),
        "key=" + urlencode({"k": SECRET}).removeprefix("k="),
        json.dumps({"key": SECRET}),
        json.dumps({"key": SECRET}, ensure_ascii=False),
    ):
        masked = redactor.text(leaked)
        assert MASK in masked, leaked
        assert "word" not in masked, (leaked, masked)


def test_joined_and_extended_redactors_keep_every_form() -> None:
    joined = Redactor(["first-secret"]).joined(Redactor([SECRET])).with_secrets(["third-one"])
    text = "?" + urlencode({"x": SECRET}) + " first-secret third-one"
    assert joined.text(text) == f"?x={MASK} {MASK} {MASK}"


def test_short_values_are_not_secrets() -> None:
    assert Redactor(["abc", ""]).text("abc") == "abc"
