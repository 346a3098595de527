from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fluxbilling.accounts.throttle import LoginPolicy, Recent, wait_seconds

T0 = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
POLICY = LoginPolicy(window=timedelta(minutes=15), per_user=3, per_client=5)


def _times(*minutes: float) -> list[datetime]:
    return [T0 + timedelta(minutes=m) for m in minutes]


def test_below_the_limits_a_login_may_be_tried() -> None:
    recent = Recent(user=_times(0, 1), client=_times(0, 1, 2, 3))
    assert wait_seconds(recent, T0 + timedelta(minutes=4), POLICY) is None


def test_at_the_username_limit_the_wait_ends_when_the_oldest_failure_leaves_the_window() -> None:
    recent = Recent(user=_times(0, 1, 2), client=_times(0, 1, 2))
    assert wait_seconds(recent, T0 + timedelta(minutes=5), POLICY) == 10 * 60
    assert wait_seconds(recent, T0 + timedelta(minutes=15), POLICY) is None


def test_at_the_client_limit_other_usernames_wait_too() -> None:
    recent = Recent(user=[], client=_times(0, 1, 2, 3, 4))
    assert wait_seconds(recent, T0 + timedelta(minutes=4), POLICY) == 11 * 60


def test_failures_outside_the_window_do_not_count() -> None:
    recent = Recent(user=_times(-20, -16, 0), client=[])
    assert wait_seconds(recent, T0 + timedelta(minutes=1), POLICY) is None


def test_the_longer_wait_of_the_two_limits_wins() -> None:
    recent = Recent(user=_times(3, 4, 5), client=_times(0, 1, 2, 3, 4))
    assert wait_seconds(recent, T0 + timedelta(minutes=6), POLICY) == 12 * 60


def test_past_the_limit_the_wait_is_until_enough_failures_have_left() -> None:
    recent = Recent(user=_times(0, 1, 2, 3, 4), client=[])
    # Three may count: allowed again once 0, 1 and 2 have left, at minute 17.
    assert wait_seconds(recent, T0 + timedelta(minutes=5), POLICY) == 12 * 60


def test_a_wait_is_at_least_one_second() -> None:
    recent = Recent(user=_times(0, 1, 2), client=[])
    now = T0 + timedelta(minutes=15) - timedelta(milliseconds=10)
    assert wait_seconds(recent, now, POLICY) == 1
