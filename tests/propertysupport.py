"""Shared Hypothesis settings and strategies for the property tests.

Every property test is bounded and reproducible: `derandomize=True` draws the same
examples on every run (CI and a laptop agree), `database=None` keeps no example files in
the tree, and each test picks its own `max_examples` so that all of them together stay well
under a minute. Deadlines are off (two shared cores make timings noisy); the code under
test is bounded by construction, which the properties exercise with hostile sizes.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

__all__ = ["BOUNDED", "json_bytes", "json_values", "scalars"]

BOUNDED = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=100,
    suppress_health_check=[HealthCheck.too_slow],
)
"""The parent settings of every property test: `@settings(BOUNDED, max_examples=...)`."""

scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
"""JSON scalars."""


def json_values(keys: st.SearchStrategy[str] | None = None, max_leaves: int = 12) -> Any:
    """Arbitrary JSON values (objects keyed by `keys`, default: short text)."""
    names = st.text(max_size=10) if keys is None else keys
    return st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(names, inner, max_size=4),
        max_leaves=max_leaves,
    )


def _nested(depth: int) -> bytes:
    return b'{"a":' * depth + b"1" + b"}" * depth


json_bytes = st.one_of(
    st.binary(max_size=200),
    json_values().map(lambda v: json.dumps(v).encode()),
    st.integers(1, 100_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(1, 100_000).map(_nested),
)
"""Request bodies: random bytes, JSON of any shape, and JSON nested far past any sane depth."""
