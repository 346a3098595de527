"""The shared parts of every entry's life: diffs, counts, rejections."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from fluxbilling import errors
from fluxbilling.catalogue import records


@dataclass(frozen=True)
class Spec:
    code: str
    servers: tuple[str, ...]
    size: int | None = None


def test_diff_names_each_changed_field_in_json_terms() -> None:
    old = Spec("a", ("1.1.1.1",), 1)
    assert records.diff(old, Spec("a", ("1.1.1.1",), 1)) == {}
    assert records.diff(old, Spec("b", ("1.1.1.1", "9.9.9.9"), None)) == {
        "code": {"from": "a", "to": "b"},
        "servers": {"from": ["1.1.1.1"], "to": ["1.1.1.1", "9.9.9.9"]},
        "size": {"from": 1, "to": None},
    }


def test_count_of() -> None:
    assert [records.count_of(n, "host") for n in (0, 1, 2)] == ["0 hosts", "1 host", "2 hosts"]


def test_reject_names_every_problem() -> None:
    records.reject("host", [])
    with pytest.raises(errors.InvalidSettings) as caught:
        records.reject("host", [records.problem("a", "bad"), records.problem("b", "worse")])
    assert caught.value.message == "host is invalid: a: bad; b: worse"
    assert caught.value.details["problems"] == [
        {"path": "a", "message": "bad"},
        {"path": "b", "message": "worse"},
    ]
