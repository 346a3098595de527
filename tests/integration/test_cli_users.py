"""`fluxbilling users ...`: create (generated or from stdin), list, set-role, disable, enable,
reset-password; the accounts they make sign in through the API. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import io

import pytest

from fluxbilling import bootstrap, errors
from fluxbilling.config import Settings
from tests.integration.test_cli import env, run_cli

pytestmark = pytest.mark.integration

__all__ = ["env"]  # the fixture, shared with test_cli


@pytest.fixture
def cheap(env: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("FLUXBILLING_PASSWORD_HASH_TIME_COST", "1")
    monkeypatch.setenv("FLUXBILLING_PASSWORD_HASH_MEMORY_KIB", "64")
    return env


def _login(username: str, password: str) -> str:
    """Sign in through the accounts service of a fresh installation: the user's role."""

    async def attempt() -> str:
        inst = bootstrap.build(Settings())
        try:
            return str((await inst.accounts.login(username, password, "127.0.0.1")).user.role)
        finally:
            await inst.close()

    return asyncio.run(attempt())


def _password(out: str) -> str:
    (line,) = [line for line in out.splitlines() if line.startswith("password: ")]
    return line.removeprefix("password: ")


def test_create_prints_a_generated_password_that_signs_in(
    cheap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("users", "create", "admin", "--role", "admin") == 0
    out = capsys.readouterr().out
    assert "created user admin with role admin" in out
    assert _login("admin", _password(out)) == "admin"


def test_create_reads_the_password_from_stdin(
    cheap: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a chosen password\n"))
    assert run_cli("users", "create", "ops", "--role", "operator", "--password-stdin") == 0
    assert "password:" not in capsys.readouterr().out
    assert _login("ops", "a chosen password") == "operator"


def test_a_short_password_or_a_taken_name_is_refused(
    cheap: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert run_cli("users", "create", "ops", "--role", "operator", "--password-stdin") == 2
    assert "at least 12 characters" in capsys.readouterr().err
    assert run_cli("users", "create", "ops", "--role", "viewer") == 0
    assert run_cli("users", "create", "ops", "--role", "viewer") == 2
    assert "exists" in capsys.readouterr().err


def test_list_set_role_disable_enable_and_reset(
    cheap: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("users", "create", "root", "--role", "admin") == 0
    assert run_cli("users", "create", "vic", "--role", "viewer") == 0
    first = _password(capsys.readouterr().out.split("created user vic")[1])
    assert run_cli("users", "set-role", "vic", "operator") == 0
    assert "vic: role operator, enabled" in capsys.readouterr().out
    assert run_cli("users", "disable", "vic") == 0
    with pytest.raises(errors.NotAuthenticated):
        _login("vic", first)
    assert run_cli("users", "enable", "vic") == 0
    assert run_cli("users", "reset-password", "vic") == 0
    second = _password(capsys.readouterr().out)
    assert second != first
    assert _login("vic", second) == "operator"
    assert run_cli("users", "list") == 0
    listing = capsys.readouterr().out.splitlines()
    assert [line.split()[1:] for line in listing] == [
        ["root", "admin", "enabled"],
        ["vic", "operator", "enabled"],
    ]
    assert run_cli("users", "disable", "root") == 2  # the last admin stays
    assert "last enabled admin" in capsys.readouterr().err
    assert run_cli("users", "disable", "nobody") == 2
