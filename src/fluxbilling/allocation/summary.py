"""Why a placement came out as it did, as a compact JSON summary for the order (pure).

The reserve path (`allocation.reservation`) decides in two steps: the database prefilters
the fleet with the checks an index and integer columns can answer (location, panel, state,
hosts that already failed this order, an address subnet, free RAM, vCPUs and NIC), and the
placement engine (`allocation.choice`) decides among the hosts that passed. This module
turns both answers into one summary:

```
strategy          spread | fill
chosen            {host_id, host, pool, ram_mb_left} | null
runners_up        the next few hosts that fit, best first
rejected          {reason: count} for every host that lost, from both steps
rejections        the first ~20 hosts that lost, by host id, with the numbers in words
not_examined      hosts that passed the prefilter but ranked below the hosts examined
failed_hosts      hosts excluded because a provision attempt already failed on them
```

Prefilter reasons are `choice.Reason`s, three of which only the database checks: `panel`
(the host is run by another connection than the product's), `no_subnet` (the installation
assigns addresses and the host has no subnet) and `failed_here`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from fluxbilling.allocation.choice import Candidate, Placement, Reason, Rejection
from fluxbilling.jsontypes import JsonObject

__all__ = [
    "FAILED_HERE",
    "NO_SUBNET",
    "PANEL",
    "exhausted_message",
    "summarise",
]

PANEL = str(Reason.PANEL)
NO_SUBNET = str(Reason.NO_SUBNET)
FAILED_HERE = str(Reason.FAILED_HERE)

MAX_REJECTIONS = 20
"""How many rejected hosts the summary lists with their numbers."""
MAX_RUNNERS_UP = 3
"""How many hosts that fit, after the chosen one, the summary lists."""


def _candidate(c: Candidate, names: Mapping[int, str]) -> JsonObject:
    return {
        "host_id": c.host.id,
        "host": names.get(c.host.id, str(c.host.id)),
        "pool": c.pool,
        "ram_mb_left": c.ram_mb_left,
    }


def _rejection(host_id: int, host: str, reason: str, text: str) -> JsonObject:
    return {"host_id": host_id, "host": host, "reason": reason, "text": text}


def summarise(
    placement: Placement,
    *,
    strategy: str,
    names: Mapping[int, str],
    prefiltered: Mapping[str, int],
    prefilter_sample: Sequence[Rejection],
    not_examined: int,
    failed_hosts: Iterable[int] = (),
) -> JsonObject:
    """The summary of one placement (see the module docstring for its shape).

    Args:
        placement: the engine's answer over the hosts that passed the prefilter.
        strategy: the product's strategy.
        names: host names by id, for every host the engine saw.
        prefiltered: how many hosts the prefilter turned away, by reason.
        prefilter_sample: the first few of them (by host id), with their numbers (their
            names in `names` too).
        not_examined: hosts that passed the prefilter but were not loaded (they rank after
            the hosts examined, so they cannot have won).
        failed_hosts: hosts this order already failed on.

    Example:
        >>> from fluxbilling.allocation.choice import Host, Need, choose
        >>> p = choose([Host(1, 1, 2048, 2), Host(2, 1, 8192, 8)], Need(ram_mb=4096, vcpus=2))
        >>> s = summarise(p, strategy="spread", names={1: "a", 2: "b"}, prefiltered={"nic": 3},
        ...               prefilter_sample=[], not_examined=0)
        >>> s["chosen"]["host"], s["rejected"]
        ('b', {'nic': 3, 'ram': 1})
    """
    counts: dict[str, int] = {k: v for k, v in prefiltered.items() if v}
    for r in placement.rejections:
        counts[str(r.reason)] = counts.get(str(r.reason), 0) + 1
    listed = [(r.host_id, _engine_rejection(r, names)) for r in prefilter_sample]
    listed += [(r.host_id, _engine_rejection(r, names)) for r in placement.rejections]
    listed.sort(key=lambda item: item[0])
    ranked = placement.ranked
    return {
        "strategy": strategy,
        "chosen": None if placement.chosen is None else _candidate(placement.chosen, names),
        "runners_up": [_candidate(c, names) for c in ranked[1 : 1 + MAX_RUNNERS_UP]],
        "fitting": len(ranked) + not_examined,
        "rejected": dict(sorted(counts.items())),
        "rejections": [row for _, row in listed[:MAX_REJECTIONS]],
        "not_examined": not_examined,
        "failed_hosts": sorted(set(failed_hosts)),
    }


def _engine_rejection(r: Rejection, names: Mapping[int, str]) -> JsonObject:
    return _rejection(r.host_id, names.get(r.host_id, str(r.host_id)), str(r.reason), r.text)


def exhausted_message(summary: Mapping[str, object], location: str) -> str:
    """Why nothing fits, in one sentence: the hosts that lost, counted by reason.

    Example:
        >>> exhausted_message({"rejected": {"ram": 2, "cpu_flags": 1}}, "location 1")
        'no host in location 1 fits: 2 lack RAM, 1 lacks a CPU flag'
        >>> exhausted_message({"rejected": {}}, "location 1")
        'no host in location 1 fits: there are no hosts'
    """
    rejected = summary.get("rejected")
    counts = dict(rejected) if isinstance(rejected, Mapping) else {}
    if not counts:
        return f"no host in {location} fits: there are no hosts"
    parts = [_count_phrase(reason, int(n)) for reason, n in counts.items() if n]
    return f"no host in {location} fits: " + ", ".join(parts)


_PHRASES: dict[str, tuple[str, str]] = {
    "location": ("is in another location", "are in other locations"),
    PANEL: ("is run by another panel", "are run by other panels"),
    "draining": ("is draining", "are draining"),
    "quarantined": ("is quarantined", "are quarantined"),
    "state": ("takes no new services", "take no new services"),
    FAILED_HERE: ("already failed this order", "already failed this order"),
    NO_SUBNET: ("has no subnet", "have no subnet"),
    "region": ("is in another region", "are in other regions"),
    "tags": ("lacks a required tag", "lack a required tag"),
    "cpu_model": ("has another CPU model", "have another CPU model"),
    "cpu_flags": ("lacks a CPU flag", "lack a CPU flag"),
    "anti_affinity": (
        "already has the customer's maximum",
        "already have the customer's maximum",
    ),
    "ram": ("lacks RAM", "lack RAM"),
    "vcpus": ("lacks vCPUs", "lack vCPUs"),
    "nic": ("lacks NIC bandwidth", "lack NIC bandwidth"),
    "storage": ("lacks storage", "lack storage"),
}


def _count_phrase(reason: str, n: int) -> str:
    one, many = _PHRASES.get(reason, (f"failed {reason}", f"failed {reason}"))
    return f"{n} {one if n == 1 else many}"
