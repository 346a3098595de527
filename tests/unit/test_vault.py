from __future__ import annotations

from pathlib import Path

import pytest

from fluxbilling import errors
from fluxbilling.vault import Vault, generate_key, load_or_create_key, new_password


def test_seal_and_open() -> None:
    vault = Vault(generate_key())
    sealed = vault.seal("root-password-123")
    assert "root-password-123" not in sealed
    assert vault.open(sealed) == "root-password-123"


def test_rotation_old_keys_still_open_and_rotate_moves_to_the_new_key() -> None:
    old, new = generate_key(), generate_key()
    sealed_with_old = Vault(old).seal("s3cret")
    rotated_vault = Vault(f"{new},{old}")
    assert rotated_vault.open(sealed_with_old) == "s3cret"
    moved = rotated_vault.rotate(sealed_with_old)
    assert Vault(new).open(moved) == "s3cret"
    with pytest.raises(errors.InvalidSettings):
        Vault(old).open(moved)


def test_a_wrong_key_is_a_clear_error_without_the_secret() -> None:
    sealed = Vault(generate_key()).seal("hunter22")
    with pytest.raises(errors.InvalidSettings) as caught:
        Vault(generate_key()).open(sealed)
    assert "cannot be opened" in str(caught.value)
    assert "hunter22" not in str(caught.value)


@pytest.mark.parametrize("keys", ["", " , ", "not-a-key"])
def test_invalid_key_lists_are_rejected(keys: str) -> None:
    with pytest.raises(errors.InvalidSettings):
        Vault(keys)


def test_key_file_is_created_private_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "state" / "secret_key.secret"
    key = load_or_create_key(path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert load_or_create_key(path) == key
    Vault(key)  # valid


def test_new_passwords_are_long_and_unambiguous() -> None:
    passwords = {new_password() for _ in range(50)}
    assert len(passwords) == 50
    assert all(len(p) == 20 and p.isalnum() and not set(p) & set("0O1lI") for p in passwords)


def test_rotating_a_value_sealed_under_an_unknown_key_names_the_problem() -> None:
    foreign = Vault(generate_key()).seal("x")
    with pytest.raises(errors.InvalidSettings, match="cannot be opened"):
        Vault(generate_key()).rotate(foreign)
