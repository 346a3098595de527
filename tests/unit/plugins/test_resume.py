"""Resume tokens: sealed with the installation key, refused when altered, foreign or expired."""

from __future__ import annotations

import dataclasses
import secrets
from datetime import UTC, datetime, timedelta

import pytest

from fluxbilling import errors
from fluxbilling.plugins import resume
from fluxbilling.vault import Vault, generate_key

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
PAUSED = resume.Resumable(
    slug=None,
    version=None,
    document={"format": "fluxbilling-visual-plugin", "plugin": {"slug": "acme"}},
    verb="provision",
    connection="sv2-test",
    context={"order": {"hostname": "t.example.com"}, "credentials": {"password": "pw-Secret-1"}},
    secrets=("pw-Secret-1",),
    correlation_key="test-abc:provision",
    cursor={"node": "wait", "outputs": {"create": {"id": 7}}},
    allow_production=False,
    expires_at=NOW + resume.TOKEN_TTL,
    started_by="olga",
)


@pytest.fixture
def vault() -> Vault:
    return Vault(generate_key())


def test_a_token_opens_to_what_was_sealed_and_hides_it(vault: Vault) -> None:
    token = resume.seal(vault, PAUSED)
    assert "pw-Secret-1" not in token and "sv2-test" not in token
    assert resume.open_token(vault, token, NOW) == PAUSED


def test_a_rotated_key_still_opens_a_token(vault: Vault) -> None:
    old = generate_key()
    token = resume.seal(Vault(old), PAUSED)
    assert resume.open_token(Vault(f"{generate_key()},{old}"), token, NOW) == PAUSED


@pytest.mark.parametrize(
    "alter",
    [
        lambda t: t[:-5] + ("AAAAA" if not t.endswith("AAAAA") else "BBBBB"),
        lambda t: t[: len(t) // 2],
        lambda t: "not a token at all",
        lambda t: "ünïcode",
    ],
    ids=["altered", "cut", "garbage", "non-ascii"],
)
def test_an_altered_token_is_refused(vault: Vault, alter: object) -> None:
    token = resume.seal(vault, PAUSED)
    with pytest.raises(errors.UserError, match="not valid") as refused:
        resume.open_token(vault, alter(token), NOW)  # type: ignore[operator]
    assert not isinstance(refused.value, errors.Expired)


def test_a_token_of_another_installation_is_refused(vault: Vault) -> None:
    token = resume.seal(Vault(generate_key()), PAUSED)
    with pytest.raises(errors.UserError, match="not valid"):
        resume.open_token(vault, token, NOW)


def test_an_expired_token_is_refused_with_its_expiry(vault: Vault) -> None:
    token = resume.seal(vault, PAUSED)
    with pytest.raises(errors.Expired) as expired:
        resume.open_token(vault, token, PAUSED.expires_at)
    assert expired.value.details["expired_at"] == PAUSED.expires_at.isoformat()
    assert resume.open_token(vault, token, PAUSED.expires_at - timedelta(seconds=1)) == PAUSED


def test_a_state_too_large_to_carry_is_refused_when_sealing(vault: Vault) -> None:
    noise = secrets.token_hex(700_000)  # incompressible enough to seal past the limit
    huge = dataclasses.replace(PAUSED, cursor={"outputs": {"blob": noise}})
    with pytest.raises(errors.UserError, match="cannot be resumed"):
        resume.seal(vault, huge)


def test_only_whoever_started_the_test_may_resume_it(vault: Vault) -> None:
    opened = resume.open_token(vault, resume.seal(vault, PAUSED), NOW)
    assert opened.started_by == "olga"
    resume.check_owner(opened, "olga")
    with pytest.raises(errors.Forbidden, match="started by 'olga'") as refused:
        resume.check_owner(opened, "oscar")
    assert refused.value.details["started_by"] == "olga"
