"""Tests for `fluxbilling.images._yaml`: what we emit loads back as exactly the input."""

from __future__ import annotations

import enum
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from fluxbilling import errors
from fluxbilling.images import _yaml
from tests.propertysupport import BOUNDED

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
    "0x10",
    "0o17",
    "+12",
    "-1.5e-3",
    ".inf",
    "-.NaN",
    "NULL",
    "True",
    "OFF",
    "2026-12-07",
    "12:30:45",
    "<<",
    "=",
    "!tag value",
    "&anchor",
    "*alias",
    "@at",
    "`tick",
    "%YAML 1.2",
    "---",
    "...",
    ": colon first",
    ":",
    "-",
    "?",
    "[1, 2]",
    "{a: 1}",
    "x" * 5000,
    "word " * 400,
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


@pytest.mark.parametrize("value", [1.5, b"bytes", object(), {1, 2}, frozenset()])
def test_unsupported_values_are_our_bug(value: object) -> None:
    with pytest.raises(errors.InvariantViolation):
        _yaml.dump({"v": value})  # type: ignore[dict-item]


def test_non_string_keys_are_our_bug() -> None:
    with pytest.raises(errors.InvariantViolation):
        _yaml.dump({"v": {1: "x"}})  # type: ignore[dict-item]


# Text and identifier-like keys, nested a few levels in lists and mappings.
_text = st.text(max_size=40)
_scalars = st.none() | st.booleans() | st.integers() | _text
_documents = st.dictionaries(
    _text,
    st.recursive(
        _scalars,
        lambda children: (
            st.lists(children, max_size=4) | st.dictionaries(_text, children, max_size=4)
        ),
        max_leaves=12,
    ),
    max_size=6,
)


@settings(BOUNDED, max_examples=300)
@given(_documents)
def test_any_plain_document_round_trips(document: dict[str, Any]) -> None:
    text = _yaml.dump(document)
    assert yaml.safe_load(text) == document
    assert all(char == "\n" or 0x20 <= ord(char) <= 0x7E for char in text)


def test_every_string_value_is_double_quoted() -> None:
    text = _yaml.dump({"a": "plain", "b": ["x"], "c": {"d": "y"}})
    assert text == 'a: "plain"\nb:\n  - "x"\nc:\n  d: "y"\n'


def test_tuples_load_as_lists() -> None:
    assert yaml.safe_load(_yaml.dump({"t": ("a", 1)})) == {"t": ["a", 1]}


def test_long_strings_stay_on_one_line() -> None:
    key = "ssh-ed25519 " + "A" * 500 + " c@h"
    assert _yaml.dump({"k": key}) == f'k: "{key}"\n'


def test_a_shared_sub_document_is_written_twice_without_aliases() -> None:
    shared = {"to": "0.0.0.0/0"}
    text = _yaml.dump({"a": [shared], "b": [shared]})
    assert "&" not in text
    assert "*" not in text
    assert yaml.safe_load(text) == {"a": [shared], "b": [shared]}


class _Colour(enum.StrEnum):
    RED = "red"


class _Level(enum.IntEnum):
    HIGH = 3


def test_str_and_int_subclasses_are_written_as_their_values() -> None:
    assert _yaml.dump({"c": _Colour.RED, "level": _Level.HIGH}) == 'c: "red"\nlevel: 3\n'


@pytest.mark.parametrize("key", ["yes", "No", "ON", "null", "1e3", "a b", "-x", "caf\u00e9"])
def test_keys_that_are_not_simple_identifiers_are_quoted(key: str) -> None:
    text = _yaml.dump({key: 1})
    assert text.startswith('"')
    assert yaml.safe_load(text) == {key: 1}
