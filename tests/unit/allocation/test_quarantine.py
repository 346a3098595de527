"""When failures in a row quarantine a host (pure)."""

from __future__ import annotations

import doctest

from fluxbilling.allocation import quarantine


def test_the_doctests_hold() -> None:
    assert doctest.testmod(quarantine).failed == 0


def test_only_an_active_host_reaching_the_limit_is_quarantined() -> None:
    assert quarantine.verdict("active", 3, 3)
    assert quarantine.verdict("active", 4, 3)
    assert not quarantine.verdict("active", 2, 3)
    assert not quarantine.verdict("quarantined", 9, 3)
    assert not quarantine.verdict("draining", 9, 3)
    assert not quarantine.verdict("active", 100, 0)  # 0: never
