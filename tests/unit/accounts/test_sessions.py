from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from fluxbilling.accounts.sessions import SessionPolicy, Verdict, needs_touch, verdict

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
POLICY = SessionPolicy(idle=timedelta(minutes=30), lifetime=timedelta(hours=12))


def _at(now: datetime, *, last_seen: datetime = T0, revoked: datetime | None = None) -> Verdict:
    return verdict(
        created_at=T0, last_seen_at=last_seen, revoked_at=revoked, now=now, policy=POLICY
    )


@pytest.mark.parametrize(
    ("minutes", "expected"),
    [(0, Verdict.VALID), (29, Verdict.VALID), (30, Verdict.IDLE), (31, Verdict.IDLE)],
)
def test_a_session_ends_after_its_idle_timeout(minutes: int, expected: Verdict) -> None:
    assert _at(T0 + timedelta(minutes=minutes)) is expected


def test_use_keeps_a_session_alive_until_its_absolute_lifetime() -> None:
    almost = T0 + timedelta(hours=12) - timedelta(seconds=1)
    assert _at(almost, last_seen=almost - timedelta(minutes=1)) is Verdict.VALID
    end = T0 + timedelta(hours=12)
    assert _at(end, last_seen=end - timedelta(minutes=1)) is Verdict.EXPIRED


def test_a_revoked_session_is_revoked_whatever_the_time() -> None:
    assert _at(T0, revoked=T0) is Verdict.REVOKED
    assert _at(T0 + timedelta(days=2), revoked=T0) is Verdict.REVOKED


def test_last_seen_is_written_at_most_once_a_minute() -> None:
    assert not needs_touch(T0, T0 + timedelta(seconds=59))
    assert needs_touch(T0, T0 + timedelta(seconds=60))
