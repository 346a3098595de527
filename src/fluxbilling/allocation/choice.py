"""The placement engine, a pure function: filter hosts, rank the ones that fit, say why the rest lost.

`choose(hosts, need, strategy)` takes plain data (no clock, no database, no logging) and
returns a `Placement`: the chosen host (or None), every host that fits in rank order, and a
`Rejection` for every host that does not, with a reason code and the numbers behind it.

Filters, in the order they are checked (a rejected host carries the first one it failed):

    state        only an active host takes new services (draining, quarantined)
    location     the product's location, when it names one
    region       the product's region, when it names one
    tags         every tag the product requires
    cpu model    the exact CPU model, when the product names one
    cpu flags    every CPU flag the product requires (e.g. avx512f)
    anti-affinity  at most `max_per_host` of this customer's services on one host
    ram, vcpus   free = total - used, must cover the need
    nic          free NIC bandwidth must cover the need
    storage      a pool of the required type whose free space, after its overcommit, covers the disk

Ranking of the hosts that fit (ties always end with the lowest host id, so the choice is
deterministic whatever order the hosts come in):

    spread  most free RAM left after placement first: keeps neighbours apart, room to resize
    fill    least free RAM left after placement first: packs hosts, keeps whole hosts free

With anti-affinity on, fewer of the customer's services on the host ranks first, before RAM.
Within the chosen host, the storage pool follows the same strategy (most or least free).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property

__all__ = [
    "Candidate",
    "Host",
    "HostIndex",
    "HostStatus",
    "Need",
    "Placement",
    "Reason",
    "Rejection",
    "StoragePool",
    "Strategy",
    "choose",
    "choose_indexed",
]


class HostStatus(StrEnum):
    """Whether a host takes new services (the `hosts.status` column).

    Only an active host is chosen; the other two keep the services they run. They differ in
    what they tell the operator: draining is planned (the host is being emptied, for
    maintenance or retirement), quarantined is a problem (something is wrong with it, and
    the dashboard says so).
    """

    ACTIVE = "active"
    """Takes new services."""
    DRAINING = "draining"
    """Keeps the services it runs, takes no new ones: being emptied on purpose."""
    QUARANTINED = "quarantined"
    """Keeps the services it runs, takes no new ones: something is wrong with it."""


class Strategy(StrEnum):
    """How the hosts that fit are ranked."""

    SPREAD = "spread"
    """Most free RAM left after placement first."""
    FILL = "fill"
    """Least free RAM left after placement first."""


class Reason(StrEnum):
    """Why a host was not a candidate (the first filter it failed)."""

    DRAINING = "draining"
    QUARANTINED = "quarantined"
    STATE = "state"
    """A state that is neither active, draining nor quarantined."""
    LOCATION = "location"
    REGION = "region"
    TAGS = "tags"
    CPU_MODEL = "cpu_model"
    CPU_FLAGS = "cpu_flags"
    ANTI_AFFINITY = "anti_affinity"
    RAM = "ram"
    VCPUS = "vcpus"
    NIC = "nic"
    STORAGE = "storage"
    # The reserve path's database prefilter also turns hosts away for reasons `choose` never
    # sees (`allocation.reservation`): they read the same way on the order page.
    PANEL = "panel"
    """Run by another connection (panel) than the product's."""
    NO_SUBNET = "no_subnet"
    """We assign the address, and the host has no subnet to draw it from."""
    FAILED_HERE = "failed_here"
    """A provision attempt of this order already failed permanently on it."""


@dataclass(frozen=True, slots=True)
class StoragePool:
    """One storage pool of a host.

    `overcommit_percent` is the overcommit ratio in percent (150 = 1.5x): the pool may
    promise `total_gb * overcommit_percent // 100` GB. Kept an integer so capacity is exact.
    """

    name: str
    type: str
    total_gb: int
    used_gb: int = 0
    overcommit_percent: int = 100

    @property
    def free_gb(self) -> int:
        """What the pool can still promise, overcommit included."""
        return self.total_gb * self.overcommit_percent // 100 - self.used_gb


@dataclass(frozen=True, slots=True)
class Host:
    """A host as the engine sees it."""

    id: int
    location_id: int
    ram_mb_total: int
    vcpus_total: int
    ram_mb_used: int = 0
    vcpus_used: int = 0
    pools: tuple[StoragePool, ...] = ()
    nic_mbps_total: int = 0
    nic_mbps_used: int = 0
    state: str = HostStatus.ACTIVE
    region: str = ""
    cpu_model: str = ""
    cpu_flags: frozenset[str] = frozenset()
    tags: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Need:
    """What a product needs, and for whom.

    `customer_services` maps host id to how many services the ordering customer already has
    there; `max_per_host` (None = no anti-affinity) caps that count, and when set the hosts
    with fewer of them rank first.
    """

    ram_mb: int
    vcpus: int
    disk_gb: int = 0
    storage_type: str | None = None
    nic_mbps: int = 0
    location_id: int | None = None
    region: str | None = None
    tags: frozenset[str] = frozenset()
    cpu_model: str | None = None
    cpu_flags: frozenset[str] = frozenset()
    max_per_host: int | None = None
    customer_services: Mapping[int, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Why one host lost: a reason code, and what it had against what was needed."""

    host_id: int
    reason: Reason
    have: int | str = ""
    need: int | str = ""

    @property
    def text(self) -> str:
        """The reason in words, e.g. "RAM: 2048 MB free of 4096 needed"."""
        return _TEXT[self.reason].format(have=self.have, need=self.need)


_TEXT: dict[Reason, str] = {
    Reason.DRAINING: "draining",
    Reason.QUARANTINED: "quarantined",
    Reason.STATE: "state {have}, takes no new services",
    Reason.LOCATION: "in location {have}, needs location {need}",
    Reason.REGION: "in region {have}, needs region {need}",
    Reason.TAGS: "lacks tag {need}",
    Reason.CPU_MODEL: "CPU {have}, needs {need}",
    Reason.CPU_FLAGS: "needs {need}",
    Reason.ANTI_AFFINITY: "customer already has {have} service(s) here, at most {need}",
    Reason.RAM: "RAM: {have} MB free of {need} needed",
    Reason.VCPUS: "vCPUs: {have} free of {need} needed",
    Reason.STORAGE: "storage: {have} GB free of {need} needed",
    Reason.NIC: "NIC: {have} Mbit/s free of {need} needed",
    Reason.PANEL: "run by connection {have}, the product uses connection {need}",
    Reason.NO_SUBNET: "no subnet to draw the address from",
    Reason.FAILED_HERE: "a provision attempt of this order failed here",
}


@dataclass(frozen=True, slots=True)
class Candidate:
    """A host that fits, with the pool chosen on it and the RAM it would have left."""

    host: Host
    pool: str | None
    ram_mb_left: int
    customer_services: int


_Lost = tuple[int, Reason, "int | str", "int | str"]
"""A rejected host's reason as `_why` returns it: (host id, reason, have, need)."""


@dataclass(frozen=True)
class Placement:
    """The engine's answer: the winner, every host that fits in rank order, and why the rest lost.

    The loop records only references to the hosts it saw (fitting, and not); `ranked` and
    `rejections` build their objects on first use, so choosing among 10,000 hosts does not
    pay for 10,000 objects nobody reads. A rejection's reason is worked out again from the
    host and the need when it is read (`_why`, the same filters in the same order). The loop
    only checks that some pool has room; which pool is picked when a candidate is built.
    """

    chosen: Candidate | None
    _fit: Sequence[Host] = field(repr=False)
    _lost: Sequence[Sequence[Host]] = field(repr=False)
    _need: Need = field(repr=False)
    _strategy: Strategy = field(repr=False)

    @cached_property
    def ranked(self) -> tuple[Candidate, ...]:
        """Every host that fits, best first (the chosen one is the first)."""
        need, strategy = self._need, self._strategy
        return tuple(
            _candidate(host, need, strategy)
            for host in sorted(self._fit, key=_rank_key(need, strategy))
        )

    @cached_property
    def rejections(self) -> tuple[Rejection, ...]:
        """Every host that does not fit, by host id, with the first filter it failed."""
        lost = sorted((host for group in self._lost for host in group), key=_host_id)
        return tuple(Rejection(*_why_lost(host, self._need)) for host in lost)

    def reason_for(self, host_id: int) -> str:
        """Why `host_id` did not win, in words ("" for the winner or a host not considered)."""
        for group in self._lost:
            for host in group:
                if host.id == host_id:
                    return Rejection(*_why_lost(host, self._need)).text
        for rank, candidate in enumerate(self.ranked):
            if candidate.host.id == host_id and rank > 0:
                return f"fits, ranked {rank + 1} of {len(self._fit)}"
        return ""


def _host_id(host: Host) -> int:
    return host.id


def _rank_key(need: Need, strategy: Strategy) -> Callable[[Host], tuple[int, int, int]]:
    """The sort key of a fitting host: (customer services, RAM-left key, id), smallest first."""
    ram, cap, theirs = need.ram_mb, need.max_per_host, need.customer_services
    sign = -1 if strategy is Strategy.SPREAD else 1

    def key(host: Host) -> tuple[int, int, int]:
        mine = theirs.get(host.id, 0) if cap is not None else 0
        return (mine, sign * (host.ram_mb_total - host.ram_mb_used - ram), host.id)

    return key


def _candidate(host: Host, need: Need, strategy: Strategy) -> Candidate:
    pool = None
    if need.disk_gb > 0 or need.storage_type is not None:
        pool = _pool(host.pools, need, strategy is Strategy.SPREAD)
    mine = need.customer_services.get(host.id, 0) if need.max_per_host is not None else 0
    return Candidate(
        host=host,
        pool=pool,
        ram_mb_left=host.ram_mb_total - host.ram_mb_used - need.ram_mb,
        customer_services=mine,
    )


def _why(host: Host, need: Need) -> _Lost | None:  # noqa: C901 - one filter per branch
    """The first filter `host` fails for `need`, with its numbers; None when it fits.

    The reference for the filters: `choose`'s loop asks the same questions in the same
    order without building anything (a test checks they agree on random fleets).
    """
    hid = host.id
    if host.state != _ACTIVE:
        return (hid, _STATE_REASON.get(host.state, Reason.STATE), host.state, "")
    if need.location_id is not None and host.location_id != need.location_id:
        return (hid, Reason.LOCATION, host.location_id, need.location_id)
    if need.region is not None and host.region != need.region:
        return (hid, Reason.REGION, host.region, need.region)
    if need.tags and not need.tags <= host.tags:
        return (hid, Reason.TAGS, "", ", ".join(sorted(need.tags - host.tags)))
    if need.cpu_model is not None and host.cpu_model != need.cpu_model:
        return (hid, Reason.CPU_MODEL, host.cpu_model, need.cpu_model)
    if need.cpu_flags and not need.cpu_flags <= host.cpu_flags:
        return (hid, Reason.CPU_FLAGS, "", ", ".join(sorted(need.cpu_flags - host.cpu_flags)))
    cap = need.max_per_host
    if cap is not None and need.customer_services.get(hid, 0) >= cap:
        return (hid, Reason.ANTI_AFFINITY, need.customer_services.get(hid, 0), cap)
    if host.ram_mb_total - host.ram_mb_used < need.ram_mb:
        return (hid, Reason.RAM, host.ram_mb_total - host.ram_mb_used, need.ram_mb)
    if host.vcpus_total - host.vcpus_used < need.vcpus:
        return (hid, Reason.VCPUS, host.vcpus_total - host.vcpus_used, need.vcpus)
    nic = need.nic_mbps
    if nic > 0 and host.nic_mbps_total - host.nic_mbps_used < nic:
        return (hid, Reason.NIC, host.nic_mbps_total - host.nic_mbps_used, nic)
    if need.disk_gb > 0 or need.storage_type is not None:
        short = _short(host.pools, need)
        if short is not None:
            return (hid, Reason.STORAGE, short, _disk_wanted(need))
    return None


def _why_lost(host: Host, need: Need) -> _Lost:
    why = _why(host, need)
    if why is None:  # pragma: no cover - the loop and `_why` disagree: a bug, say so loudly
        raise AssertionError(f"host {host.id} was rejected but fits")
    return why


def choose(hosts: Iterable[Host], need: Need, strategy: Strategy = Strategy.SPREAD) -> Placement:
    """Filter `hosts` for `need`, rank the ones that fit by `strategy`, and explain the rest.

    Example:
        >>> small = Host(1, 1, ram_mb_total=2048, vcpus_total=2)
        >>> big = Host(2, 1, ram_mb_total=8192, vcpus_total=8)
        >>> p = choose([small, big], Need(ram_mb=4096, vcpus=2))
        >>> p.chosen.host.id, p.rejections[0].text
        (2, 'RAM: 2048 MB free of 4096 needed')
    """
    fit: list[Host] = []
    lost: list[Host] = []
    best = _scan(hosts, need, strategy, fit, lost)
    chosen = None if best is None else _candidate(best, need, strategy)
    return Placement(chosen, fit, (lost,), need, strategy)


@dataclass(frozen=True, slots=True)
class HostIndex:
    """A fleet grouped once for many choices: active hosts by location, and the rest.

    Build it when the fleet is loaded (`HostIndex.of(hosts)`) and pass it to
    `choose_indexed`, which then visits only the active hosts of the need's location (all
    active hosts when the need names none); the other groups are rejected without being
    looked at, their reasons worked out when read. The index holds the hosts as they were:
    rebuild it (or build a new one) when a host's load or state changes.
    """

    by_location: Mapping[int, Sequence[Host]]
    """The active hosts of each location, in the order they came."""
    active: Sequence[Host]
    """Every active host, in the order they came."""
    inactive: Sequence[Host]
    """Every host that is not active (draining, quarantined, or another state)."""

    @classmethod
    def of(cls, hosts: Iterable[Host]) -> HostIndex:
        """Group `hosts`: one pass, kept for as many choices as the fleet stays the same."""
        by_location: dict[int, list[Host]] = {}
        active: list[Host] = []
        inactive: list[Host] = []
        for host in hosts:
            if host.state == _ACTIVE:
                active.append(host)
                by_location.setdefault(host.location_id, []).append(host)
            else:
                inactive.append(host)
        return cls(by_location, active, inactive)


def choose_indexed(index: HostIndex, need: Need, strategy: Strategy = Strategy.SPREAD) -> Placement:
    """`choose` over an indexed fleet: the same answer, visiting only the hosts that could fit.

    Example:
        >>> index = HostIndex.of([Host(1, 1, 8192, 8), Host(2, 2, 8192, 8)])
        >>> p = choose_indexed(index, Need(ram_mb=4096, vcpus=2, location_id=2))
        >>> p.chosen.host.id, p.rejections[0].text
        (2, 'in location 1, needs location 2')
    """
    fit: list[Host] = []
    lost: list[Host] = []
    location = need.location_id
    if location is None:
        scanned, skipped = index.active, [index.inactive]
    else:
        scanned = index.by_location.get(location, ())
        skipped = [index.inactive]
        skipped += [group for where, group in index.by_location.items() if where != location]
    best = _scan(scanned, need, strategy, fit, lost)
    chosen = None if best is None else _candidate(best, need, strategy)
    return Placement(chosen, fit, (*skipped, lost), need, strategy)


def _scan(
    hosts: Iterable[Host], need: Need, strategy: Strategy, fit: list[Host], lost: list[Host]
) -> Host | None:
    """Append each host to `fit` or `lost`, and return the best fitting one (None if none).

    The hot loop: it runs over every host on each order, so it allocates nothing per host
    (no tuple, no object: a host only goes into one of two lists, and the best is tracked
    in plain integers), which also keeps the cyclic garbage collector out of the call. The
    filters are `_why`'s, asked in the same order with the need's fields held in locals.
    """
    spread = strategy is Strategy.SPREAD
    location, region, model = need.location_id, need.region, need.cpu_model
    tags, flags = need.tags, need.cpu_flags
    cap, theirs = need.max_per_host, need.customer_services
    ram, vcpus, nic = need.ram_mb, need.vcpus, need.nic_mbps
    storage = need.disk_gb > 0 or need.storage_type is not None
    kind, disk = need.storage_type, need.disk_gb
    keep, drop = fit.append, lost.append
    best: Host | None = None
    best_mine = best_key = best_id = 0
    for host in hosts:
        if (
            host.state != _ACTIVE
            or (location is not None and host.location_id != location)
            or (region is not None and host.region != region)
            or (tags and not tags <= host.tags)
            or (model is not None and host.cpu_model != model)
            or (flags and not flags <= host.cpu_flags)
        ):
            drop(host)
            continue
        mine = theirs.get(host.id, 0) if cap is not None else 0
        left = host.ram_mb_total - host.ram_mb_used - ram
        if (
            (cap is not None and mine >= cap)
            or left < 0
            or host.vcpus_total - host.vcpus_used < vcpus
            or (nic > 0 and host.nic_mbps_total - host.nic_mbps_used < nic)
            or (storage and not _has_room(host.pools, kind, disk))
        ):
            drop(host)
            continue
        keep(host)
        key = -left if spread else left
        hid = host.id
        if (
            best is None
            or mine < best_mine
            or (mine == best_mine and (key < best_key or (key == best_key and hid < best_id)))
        ):
            best, best_mine, best_key, best_id = host, mine, key, hid
    return best


def _has_room(pools: tuple[StoragePool, ...], kind: str | None, disk: int) -> bool:
    """Whether a pool of type `kind` (any, when None) can still promise `disk` GB."""
    for p in pools:
        if (kind is None or p.type == kind) and (
            p.total_gb * p.overcommit_percent // 100 - p.used_gb >= disk  # free_gb, inlined
        ):
            return True
    return False


def _disk_wanted(need: Need) -> int | str:
    return f"{need.disk_gb} {need.storage_type}" if need.storage_type else need.disk_gb


_ACTIVE = str(HostStatus.ACTIVE)
_STATE_REASON: dict[str, Reason] = {
    HostStatus.DRAINING: Reason.DRAINING,
    HostStatus.QUARANTINED: Reason.QUARANTINED,
}


def _short(pools: tuple[StoragePool, ...], need: Need) -> int | None:
    """None when a pool of `need`'s type has room for its disk, else the most any of them has free."""
    most = 0
    kind, disk = need.storage_type, need.disk_gb
    for p in pools:
        if kind is None or p.type == kind:
            free = p.total_gb * p.overcommit_percent // 100 - p.used_gb  # free_gb, inlined
            if free >= disk:
                return None
            if free > most:  # not max(): this runs for every host that passed the cheap filters
                most = free
    return most


def _pool(pools: tuple[StoragePool, ...], need: Need, spread: bool) -> str | None:
    """The pool for `need`'s disk on one host, None when no pool of its type has room.

    Spread takes the pool with the most free space, fill the one with the least that still
    fits; ties go to the pool's name.
    """
    room = [
        p
        for p in pools
        if (need.storage_type is None or p.type == need.storage_type) and p.free_gb >= need.disk_gb
    ]
    if not room:
        return None
    return min(room, key=lambda p: (-p.free_gb if spread else p.free_gb, p.name)).name
