from __future__ import annotations

import hashlib

from fluxbilling.accounts import credentials


def test_api_tokens_start_with_the_prefix_and_differ() -> None:
    first, second = credentials.new_api_token(), credentials.new_api_token()
    assert first.startswith("fbt_") and second.startswith("fbt_")
    assert first != second
    assert len(first) == 4 + 43


def test_only_a_digest_is_kept_and_it_matches_the_value() -> None:
    token = credentials.new_api_token()
    stored = credentials.digest(token)
    assert stored == hashlib.sha256(token.encode()).hexdigest()
    assert token not in stored
    assert credentials.matches(token, stored)
    assert not credentials.matches(token + "x", stored)
    assert not credentials.matches("", stored)


def test_the_prefix_names_a_token_without_giving_it_away() -> None:
    token = credentials.new_api_token()
    prefix = credentials.token_prefix(token)
    assert token.startswith(prefix)
    assert len(prefix) == 10


def test_generated_passwords_are_long_and_distinct() -> None:
    passwords = {credentials.generate_password() for _ in range(20)}
    assert len(passwords) == 20
    assert all(len(p) == 24 for p in passwords)
