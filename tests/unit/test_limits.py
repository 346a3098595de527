"""Size and depth limits on untrusted JSON, and CPU-bound work kept off the event loop."""

from __future__ import annotations

import asyncio
import json
import random
import threading
from decimal import Decimal
from typing import Any

import pytest

from fluxbilling import errors, limits

# Strings that confuse a naive bracket counter: brackets, quotes, backslashes, escapes.
TRICKY = ["[", "]", "{", "}", '"', "\\", '\\"', '"[', "\\[", "a\\", "\\\\", "é[", "\u2028{", ""]


def depth(value: Any) -> int:
    """The nesting depth of a parsed value, the way a parser recurses into it."""
    if isinstance(value, dict):
        return 1 + max((depth(v) for v in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((depth(v) for v in value), default=0)
    return 0


def random_json(rng: random.Random, levels: int) -> Any:
    kind = rng.randrange(5 if levels else 3)
    if kind == 0:
        return rng.choice(TRICKY) + rng.choice(TRICKY)
    if kind == 1:
        return rng.choice([0, -1.5, True, None])
    if kind == 2:
        return rng.choice(TRICKY)
    if kind == 3:
        return [random_json(rng, levels - 1) for _ in range(rng.randrange(4))]
    return {rng.choice(TRICKY) + str(i): random_json(rng, levels - 1) for i in range(3)}


def test_json_depth_matches_the_parsed_depth_of_random_documents() -> None:
    rng = random.Random(9)
    for _ in range(2000):
        value = random_json(rng, rng.randrange(8))
        for text in (json.dumps(value), json.dumps(value, ensure_ascii=False, indent=1)):
            assert limits.json_depth(text.encode()) == depth(value), text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (b"", 0),
        (b"[]", 1),
        (b'{"a": [[], {"b": [1]}]}', 4),
        (b'["]]]]"]', 1),
        (b'["\\\\", ["\\""], "[[["]', 2),
        (b"[[[" * 10, 30),  # unclosed: a parser recurses that far before it gives up
        (b'["unterminated [[[[', 1),
    ],
)
def test_json_depth_examples(text: bytes, expected: int) -> None:
    assert limits.json_depth(text) == expected


def test_check_json_allows_the_limit_and_refuses_one_level_more() -> None:
    limits.check_json(b"[" * 64 + b"]" * 64)
    limits.check_json(b'["' + b"[" * 1000 + b'"]')  # brackets in a string do not nest
    with pytest.raises(errors.InvalidBody) as refused:
        limits.check_json(b"[" * 65 + b"]" * 65)
    assert refused.value.message == "JSON nested deeper than 64 levels"
    assert refused.value.details == {"max_depth": 64}
    interleaved = b"[[]," * 40 + b"]" * 40  # no run of 65 openers, still 41 levels deep
    limits.check_json(interleaved)
    with pytest.raises(errors.InvalidBody):
        limits.check_json(interleaved, max_depth=40)


def test_check_json_refuses_text_that_is_not_utf8() -> None:
    with pytest.raises(errors.InvalidBody, match="not UTF-8"):
        limits.check_json('["\u20ac"]'.encode("utf-16"))


def test_loads_json_refuses_what_json_loads_cannot_survive() -> None:
    bomb = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(RecursionError):
        json.loads(bomb)
    with pytest.raises(errors.InvalidBody, match="deeper than 64"):
        limits.loads_json(bomb)
    with pytest.raises(ValueError, match="deeper than 64"):  # one `except ValueError` covers it
        limits.loads_json(bomb.decode())


def test_loads_json_parses_like_json_loads() -> None:
    assert limits.loads_json(b'{"a": [1.5, "\xc3\xa9"]}') == {"a": [1.5, "é"]}
    assert limits.loads_json('{"a": 1.5}', parse_float=Decimal) == {"a": Decimal("1.5")}
    assert limits.loads_json("[[1]]", max_depth=2) == [[1]]
    with pytest.raises(json.JSONDecodeError):
        limits.loads_json(b"{nope")


def test_loads_json_refuses_a_body_over_its_size_before_reading_it() -> None:
    with pytest.raises(errors.BodyTooLarge) as refused:
        limits.loads_json(b"[" + b"1," * 1000 + b"1]", max_bytes=1024)
    assert refused.value.message == "body larger than 1 KiB"
    assert refused.value.details == {"max_bytes": 1024}
    assert isinstance(refused.value, errors.InvalidBody)


def test_describe_size() -> None:
    assert [limits.describe_size(n) for n in (256 * 1024, 2 * 1024 * 1024, 1500)] == [
        "256 KiB",
        "2 MiB",
        "1500 bytes",
    ]


@pytest.mark.anyio
async def test_cpu_bound_work_runs_while_the_loop_keeps_going() -> None:
    loop_ran = threading.Event()

    def job() -> str:
        # Only the event loop sets it: run on the loop, this would wait in vain.
        assert loop_ran.wait(timeout=30)
        return "done"

    running = asyncio.create_task(limits.run_cpu_bound(job))
    await asyncio.sleep(0.01)
    loop_ran.set()
    assert await running == "done"


@pytest.mark.anyio
async def test_cpu_bound_jobs_run_at_most_cpu_threads_at_once() -> None:
    lock = threading.Lock()
    running, most = 0, 0
    release = threading.Event()

    def job() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        release.wait(timeout=30)
        with lock:
            running -= 1

    jobs = [asyncio.create_task(limits.run_cpu_bound(job)) for _ in range(limits.CPU_THREADS + 3)]
    while running < limits.CPU_THREADS:
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.05)  # room for a job over the limit to start, were it allowed to
    release.set()
    await asyncio.gather(*jobs)
    assert most == limits.CPU_THREADS


def test_loads_json_takes_text_as_it_is() -> None:
    assert limits.loads_json('["\ud800"]') == json.loads('["\ud800"]')  # a lone surrogate
