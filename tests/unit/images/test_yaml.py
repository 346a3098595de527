"""Tests for `fluxbilling.images._yaml`: what we emit loads back as exactly the input."""

from __future__ import annotations

from typing import Any

import pytest
import yaml

from fluxbilling import errors
from fluxbilling.images import _yaml

TRICKY = [
    "yes",
    "on",
    "0755",
    "52:54:00:12:34:56",
    "null",
    "~",
    "1e3",
    "- x",
    "# not a comment",
    "key: value",
    'quote " and \\ backslash',
    "line\nbreak\r\ttab",
    "\x00\x07\x7f\x85\xa0",
    "caf\u00e9 \u2028 \ufeff",
    "emoji \U0001f600",
    "",
    "  padded  ",
]


@pytest.mark.parametrize("text", TRICKY)
def test_strings_round_trip(text: str) -> None:
    document: dict[str, Any] = {"value": text, "list": [text], "nested": {text or "empty": text}}
    assert yaml.safe_load(_yaml.dump(document)) == document


def test_structures_round_trip() -> None:
    document: dict[str, Any] = {
        "version": 2,
        "flag": True,
        "off": False,
        "nothing": None,
        "empty_list": [],
        "empty_map": {},
        "users": [{"name": "root", "keys": ["a", "b"], "opts": {"x": 1}}, "default"],
        "runcmd": [["echo", "hi"], "plain", [], {}],
        "set-name": "eth0",
        "weird key": 1,
    }
    text = _yaml.dump(document)
    assert yaml.safe_load(text) == document
    assert "set-name:" in text  # simple keys stay plain
    assert '"weird key": 1' in text


def test_empty_document() -> None:
    assert _yaml.dump({}) == "{}\n"


def test_only_printable_ascii_is_emitted() -> None:
    text = _yaml.dump({"v": "".join(TRICKY)})
    assert all(char == "\n" or 0x20 <= ord(char) <= 0x7E for char in text)


@pytest.mark.parametrize("value", [1.5, b"bytes", object()])
def test_unsupported_values_are_our_bug(value: object) -> None:
    with pytest.raises(errors.InvariantViolation):
        _yaml.dump({"v": value})  # type: ignore[dict-item]


def test_non_string_keys_are_our_bug() -> None:
    with pytest.raises(errors.InvariantViolation):
        _yaml.dump({"v": {1: "x"}})  # type: ignore[dict-item]
