"""The shared request types refuse what no database stores alike, naming where it is."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel, Field, ValidationError

from fluxbilling.api import fields


class Body(fields.RequestBody):
    name: fields.Line = Field(max_length=5)
    note: fields.Text | None = None
    secret: fields.Secret | None = None
    document: fields.JsonObject = Field(default_factory=dict)
    loose: dict[str, Any] = Field(default_factory=dict)


class Id(BaseModel):
    id: fields.RowId
    version: fields.Version = 1


def _error(**values: Any) -> dict[str, Any]:
    with pytest.raises(ValidationError) as raised:
        Body.model_validate(values)
    (error,) = raised.value.errors()
    return dict(error)


@pytest.mark.parametrize("value", ["a\x00", "a\rb", "a\nb"])
def test_a_line_refuses_nul_and_line_breaks(value: str) -> None:
    error = _error(name=value)
    assert (error["loc"], error["type"]) == (("name",), "forbidden_character")


def test_a_line_keeps_its_own_constraints_and_their_messages() -> None:
    assert _error(name="toolong")["type"] == "string_too_long"


def test_text_may_span_lines_but_holds_no_nul() -> None:
    assert Body(name="n", note="two\nlines").note == "two\nlines"
    assert _error(name="n", note="a\x00")["loc"] == ("note",)


def test_a_secret_is_refused_without_showing_it() -> None:
    error = _error(name="n", secret="s3cret\r\n")
    assert error["loc"] == ("secret",)
    assert "s3cret" not in error["msg"]


@pytest.mark.parametrize(
    ("document", "path", "message"),
    [
        ({"a": {"b": ["x", "y\x00"]}}, "a.b[1]", "must not contain a NUL character"),
        ({"k\x00": 1}, "k\x00", "must not contain a NUL character"),
        ({"n": 2**63}, "n", "must be an integer between -2^63 and 2^63-1"),
        ({"n": -(2**63) - 1}, "n", "must be an integer between -2^63 and 2^63-1"),
        ({"f": float("nan")}, "f", "must be a finite number"),
    ],
)
def test_a_json_object_names_the_first_unstorable_value(
    document: dict[str, Any], path: str, message: str
) -> None:
    error = _error(name="n", document=document)
    assert (error["loc"], error["type"]) == (("document",), fields.UNSTORABLE)
    assert error["ctx"] == {"path": path, "message": message}


def test_every_request_body_is_checked_whole_whatever_its_fields_allow() -> None:
    error = _error(name="n", loose={"deep": ["\x00"]})
    assert (error["loc"], error["ctx"]["path"]) == ((), "loose.deep[0]")


def test_a_request_body_refuses_unknown_fields() -> None:
    assert _error(name="n", typo=1)["type"] == "extra_forbidden"


def test_storable_values_pass() -> None:
    document = {"a": [1, 2.5, True, None, "text\nwith lines"], "n": 2**63 - 1}
    assert fields.json_problem(document) is None
    assert Body(name="n", document=document).document == document


@pytest.mark.parametrize(
    ("values", "field"),
    [({"id": 0}, "id"), ({"id": 2**63}, "id"), ({"id": 1, "version": 2**31}, "version")],
)
def test_ids_and_versions_fit_their_columns(values: dict[str, int], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        Id.model_validate(values)
    assert raised.value.errors()[0]["loc"] == (field,)
    assert Id(id=2**63 - 1, version=2**31 - 1).id == 2**63 - 1
