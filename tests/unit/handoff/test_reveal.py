"""The pure parts of password reveal links: tokens, what is stored of them, the link."""

from __future__ import annotations

import hashlib

import pytest

from fluxbilling.handoff import reveal
from fluxbilling.orders.lifecycle import ServiceState


def test_tokens_are_random_url_safe_and_well_formed() -> None:
    tokens = {reveal.new_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) == 43 and reveal.well_formed(t) for t in tokens)


@pytest.mark.parametrize(
    "token",
    ["", "short", "x" * 42, "x" * 44, "x" * 42 + "/", "x" * 42 + "=", "x" * 42 + "\n", "é" * 43],
)
def test_anything_else_is_not_a_token(token: str) -> None:
    assert not reveal.well_formed(token)


def test_only_the_sha256_of_a_token_is_stored() -> None:
    token = reveal.new_token()
    assert reveal.token_hash(token) == hashlib.sha256(token.encode()).hexdigest()
    assert token not in reveal.token_hash(token)


@pytest.mark.parametrize(
    "public_url", ["https://billing.example.net", "https://billing.example.net/"]
)
def test_the_link_is_under_the_public_url(public_url: str) -> None:
    assert reveal.link_url(public_url, "tok") == "https://billing.example.net/reveal/tok"


def test_the_terminated_state_is_the_lifecycles() -> None:
    assert ServiceState(reveal.TERMINATED) is ServiceState.TERMINATED


def test_a_revealed_password_does_not_print() -> None:
    revealed = reveal.Revealed(service_id=3, order_id=7, password="hunter2-hunter2")
    assert "hunter2" not in repr(revealed)
    assert "hunter2" not in str(revealed)
