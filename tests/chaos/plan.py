"""How hard one chaos run pushes: orders, workers, kill rate, pauses, PostgreSQL restarts.

The defaults are the CI variant (part of the suite on both backends, a few minutes). The
environment scales it up for `make chaos` (see the Makefile and docs/reliability.md):

| variable | meaning | CI default |
|---|---|---|
| `FLUXBILLING_CHAOS_ORDERS` | paid orders placed | 210 |
| `FLUXBILLING_CHAOS_WORKERS` | worker processes kept running | 3 |
| `FLUXBILLING_CHAOS_KILL_EVERY` | seconds between SIGKILLs, `low-high` | `1.5-5` |
| `FLUXBILLING_CHAOS_KILLS` | SIGKILLs in all, or `all` (until every order is active) | 6 |
| `FLUXBILLING_CHAOS_FORK` | `1`: fork workers from a pre-imported server (`forkserver.py`) | 0 |
| `FLUXBILLING_CHAOS_PG_RESTART` | `fast`, `immediate`, `kill` or `none` | `kill` |
| `FLUXBILLING_CHAOS_PG_DOWN` | seconds PostgreSQL stays down | 2 |
| `FLUXBILLING_CHAOS_TIMEOUT` | bound on the whole run, seconds | scaled to the orders |
| `FLUXBILLING_CHAOS_RESULT` | write the result as JSON to this file | (none) |
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from tests.chaos.pgcluster import RESTART_MODES

__all__ = ["ChaosPlan"]

_PREFIX = "FLUXBILLING_CHAOS_"
_CI_ORDERS = 210


@dataclass(frozen=True)
class ChaosPlan:
    """One chaos run's parameters (`from_env` reads them)."""

    orders: int = _CI_ORDERS
    workers: int = 3
    kill_every: tuple[float, float] = (1.5, 5.0)
    kills: int | None = 6  # None: keep killing until every order is active
    fork_workers: bool = False
    pauses: int = 1
    pg_restart: str | None = "kill"  # the restart mode; None: no restart
    pg_down_seconds: float = 2.0
    test_seconds: float = 240.0
    result_path: Path | None = None

    @property
    def settle_seconds(self) -> float:
        """How long after the last payment every order must be active."""
        return self.test_seconds - 90.0

    @property
    def hosts(self) -> int:
        """Hosts of 256 GB: a host takes about 100 orders of the seeded 2 GB / 40 GB plan."""
        return max(3, -(-self.orders * 13 // 10 // 100))

    @classmethod
    def from_env(cls, environ: Mapping[str, str] = os.environ) -> ChaosPlan:
        """The CI defaults, overridden by `FLUXBILLING_CHAOS_*` variables.

        Raises:
            ValueError: a variable has a value that makes no sense (named in the message).
        """
        env = {
            k.removeprefix(_PREFIX): v.strip() for k, v in environ.items() if k.startswith(_PREFIX)
        }
        defaults = cls()
        orders = _positive_int(env, "ORDERS", defaults.orders)
        kills_text = env.get("KILLS", "")
        kills = defaults.kills
        if kills_text.lower() == "all":
            kills = None
        elif kills_text:
            kills = _positive_int(env, "KILLS", 0, allow_zero=True)
        restart = env.get("PG_RESTART", defaults.pg_restart or "none").lower()
        if restart not in (*RESTART_MODES, "none"):
            _bad("PG_RESTART", restart, f"one of {', '.join(RESTART_MODES)}, none")
        scaled = defaults.test_seconds + 2.5 * max(0, orders - _CI_ORDERS)
        timeout = float(env["TIMEOUT"]) if env.get("TIMEOUT") else scaled
        result = env.get("RESULT")
        return cls(
            orders=orders,
            workers=_positive_int(env, "WORKERS", defaults.workers),
            kill_every=_interval(env.get("KILL_EVERY"), defaults.kill_every),
            kills=kills,
            fork_workers=env.get("FORK", "0") not in ("", "0"),
            pauses=defaults.pauses,
            pg_restart=None if restart == "none" else restart,
            pg_down_seconds=float(env.get("PG_DOWN") or defaults.pg_down_seconds),
            test_seconds=max(timeout, 120.0),
            result_path=Path(result) if result else None,
        )


def _bad(name: str, value: str, wanted: str) -> None:
    msg = f"{_PREFIX}{name}={value!r}: expected {wanted}"
    raise ValueError(msg)


def _positive_int(
    env: Mapping[str, str], name: str, default: int, *, allow_zero: bool = False
) -> int:
    text = env.get(name)
    if not text:
        return default
    if not text.isdigit() or (int(text) == 0 and not allow_zero):
        _bad(name, text, "a positive whole number")
    return int(text)


def _interval(text: str | None, default: tuple[float, float]) -> tuple[float, float]:
    if not text:
        return default
    low, _, high = text.partition("-")
    try:
        bounds = (float(low), float(high or low))
    except ValueError:
        bounds = (-1.0, -1.0)
    if not 0 < bounds[0] <= bounds[1]:
        _bad("KILL_EVERY", text, "seconds as low-high, e.g. 0.3-1.2")
    return bounds
