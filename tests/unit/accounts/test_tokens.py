from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fluxbilling.accounts.tokens import needs_mark, usable

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)


def test_a_token_without_expiry_works_until_revoked() -> None:
    assert usable(expires_at=None, revoked_at=None, now=T0 + timedelta(days=3650))
    assert not usable(expires_at=None, revoked_at=T0, now=T0)


def test_an_expiring_token_stops_at_its_expiry() -> None:
    expiry = T0 + timedelta(days=7)
    assert usable(expires_at=expiry, revoked_at=None, now=expiry - timedelta(seconds=1))
    assert not usable(expires_at=expiry, revoked_at=None, now=expiry)


def test_last_use_is_written_at_most_once_a_minute() -> None:
    assert needs_mark(None, T0)
    assert not needs_mark(T0, T0 + timedelta(seconds=59))
    assert needs_mark(T0, T0 + timedelta(seconds=60))
