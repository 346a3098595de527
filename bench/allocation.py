"""Allocation benchmark: how long the placement engine takes to choose a host among 10,000.

The pure engine only (`allocation.choice.choose`), in this process: no database, no
reservation. A fixed, seeded fleet of hosts (4 locations in 2 regions; 90 % active, 5 %
draining, 5 % quarantined; half with AVX-512; an SSD pool with 150 % overcommit and an HDD
pool each; random loads) is built once, then each case calls `choose` `--runs` times after
`--warmup` calls that are not counted, and reports p50 / p95 / max wall time and the CPU
time per call.

    .venv/bin/python bench/allocation.py [--hosts 10000] [--runs 500] [--warmup 20]
                                         [--seed 1] [--quick] [--gc on|freeze|off]

Cases (the need is the same 4 GB / 4 vCPU / 80 GB machine in each, filters vary):

    typical   location 1, SSD, 100 Mbit/s, needs avx512f: most hosts fail a cheap filter
    loose     no location, any storage: most hosts pass every filter (the engine's worst case)
    anti      typical, plus anti-affinity (at most 1 per host) for a customer on 2,000 hosts
    +reasons  the same call, then every rejection's text and the full ranking read, as the
              order page would (objects built on first use; not part of choosing)
    indexed   the same need through `choose_indexed` over a `HostIndex` built once with the
              fleet (it visits only the active hosts of the need's location)

`--gc` says what the cyclic garbage collector does: `on` (default, as in the server),
`freeze` (`gc.freeze()` after the fleet is built, so collections skip its 10,000 hosts), or
`off` (collector disabled around each timed call).

Each case runs with both strategies (spread, fill). The issue's target is ≤ 5 ms p50 for
host choice among 10,000 hosts.

`--db sqlite|postgresql|both` also times the real reserve path through a bench database
(`_allocation_db.py`: SQL prefilter, rejection counts from one aggregate, the engine on the
candidates, guarded UPDATEs, one committed transaction per reservation);
`--db-locations N` spreads the fleet over N locations (default 4; 1 = all in the product's);
`--db-only` skips the pure cases. Results are printed as a Markdown table and saved as JSON
in `bench/.results/allocation.json`. `--quick` is 100 runs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import random
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import _allocation_db
import _common

from fluxbilling.allocation.choice import (
    Host,
    HostIndex,
    HostStatus,
    Need,
    Placement,
    StoragePool,
    Strategy,
    choose,
    choose_indexed,
)

GIB = 1024


def fleet(count: int, seed: int) -> list[Host]:
    """`count` hosts drawn from `seed`: the same fleet every run."""
    rng = random.Random(seed)
    states = [HostStatus.ACTIVE] * 18 + [HostStatus.DRAINING, HostStatus.QUARANTINED]
    hosts = []
    for i in range(1, count + 1):
        location = rng.randrange(1, 5)
        ram = rng.choice([128, 256, 512]) * GIB
        vcpus = rng.choice([32, 64, 128])
        flags = {"sse4_2", "avx2", "aes"} | ({"avx512f"} if rng.random() < 0.5 else set())
        hosts.append(
            Host(
                i,
                location_id=location,
                region="eu" if location <= 2 else "us",
                ram_mb_total=ram,
                ram_mb_used=rng.randrange(0, ram),
                vcpus_total=vcpus,
                vcpus_used=rng.randrange(0, vcpus),
                pools=(
                    StoragePool("ssd", "ssd", 4000, rng.randrange(0, 6000), 150),
                    StoragePool("hdd", "hdd", 16000, rng.randrange(0, 16000)),
                ),
                nic_mbps_total=25000,
                nic_mbps_used=rng.randrange(0, 25000),
                state=rng.choice(states),
                cpu_model=rng.choice(["EPYC 7543", "EPYC 9354", "Xeon 6338"]),
                cpu_flags=frozenset(flags),
                tags=frozenset({"nvme"}),
            )
        )
    return hosts


def needs(hosts: list[Host], seed: int) -> dict[str, Need]:
    """The cases' needs (see the module doc)."""
    typical = Need(
        ram_mb=4 * GIB,
        vcpus=4,
        disk_gb=80,
        storage_type="ssd",
        nic_mbps=100,
        location_id=1,
        cpu_flags=frozenset({"avx512f"}),
    )
    rng = random.Random(seed + 1)
    theirs = {h.id: 1 for h in rng.sample(hosts, min(2000, len(hosts)))}
    return {
        "typical": typical,
        "loose": Need(ram_mb=4 * GIB, vcpus=4, disk_gb=80),
        "anti": replace(typical, max_per_host=1, customer_services=theirs),
    }


def _read_everything(placement: Placement) -> int:
    return sum(len(r.text) for r in placement.rejections) + len(placement.ranked)


def measure(
    call: Callable[[], Any], runs: int, warmup: int, gc_off: bool = False
) -> tuple[list[float], float, Any]:
    """Wall times (ms) of `runs` calls after `warmup`, CPU ms per call, and the last result.

    With `gc_off` the collector is disabled for each timed call and enabled again after it.
    """
    result: Any = None
    for _ in range(warmup):
        result = call()
    walls = []
    cpu0 = time.process_time()
    for _ in range(runs):
        if gc_off:
            gc.disable()
        t0 = time.perf_counter()
        result = call()
        walls.append((time.perf_counter() - t0) * 1000)
        if gc_off:
            gc.enable()
    cpu = (time.process_time() - cpu0) * 1000 / runs
    return walls, cpu, result


def main() -> None:
    """Parse the options, run every case, print the table and save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--hosts", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=500)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="100 runs")
    parser.add_argument("--gc", choices=["on", "freeze", "off"], default="on")
    parser.add_argument("--db", choices=["none", "sqlite", "postgresql", "both"], default="none")
    parser.add_argument("--db-locations", type=int, default=4)
    parser.add_argument("--db-only", action="store_true", help="skip the pure cases")
    opts = parser.parse_args()
    runs = 100 if opts.quick else opts.runs
    hosts = fleet(opts.hosts, opts.seed)
    index = HostIndex.of(hosts)
    if opts.gc == "freeze":
        gc.collect()
        gc.freeze()
    cases = []
    load_before = os.getloadavg()[0]
    for name, need in ({} if opts.db_only else needs(hosts, opts.seed)).items():
        for strategy in Strategy:
            for variant in ("", " +reasons", " indexed"):
                label = f"{name}{variant}"
                _common.say(f"{label}, {strategy} …")

                def call(need: Need = need, strategy: Strategy = strategy) -> Placement:
                    return choose(hosts, need, strategy)

                def call_and_read(need: Need = need, strategy: Strategy = strategy) -> int:
                    return _read_everything(choose(hosts, need, strategy))

                def call_indexed(need: Need = need, strategy: Strategy = strategy) -> Placement:
                    return choose_indexed(index, need, strategy)

                calls = {"": call, " +reasons": call_and_read, " indexed": call_indexed}
                walls, cpu, _ = measure(calls[variant], runs, opts.warmup, opts.gc == "off")
                placement = choose(hosts, need, strategy)
                cases.append(
                    {
                        "case": label,
                        "strategy": str(strategy),
                        "fit": len(placement.ranked),
                        "rejected": len(placement.rejections),
                        "chosen": placement.chosen.host.id if placement.chosen else None,
                        "p50_ms": _common.percentile(walls, 0.5),
                        "p95_ms": _common.percentile(walls, 0.95),
                        "max_ms": max(walls),
                        "cpu_ms": cpu,
                    }
                )
    backends = {"none": [], "both": ["sqlite", "postgresql"]}.get(opts.db, [opts.db])
    db_cases = []
    for backend in backends:
        db_cases += asyncio.run(
            _allocation_db.measure_db(
                backend, hosts, locations=opts.db_locations, runs=runs, warmup=opts.warmup
            )
        )
    report = {
        "machine": _common.machine(),
        "hosts": opts.hosts,
        "runs": runs,
        "gc": opts.gc,
        "load_1min": [load_before, os.getloadavg()[0]],
        "cases": cases,
        "db_cases": db_cases,
    }
    _common.RESULTS.mkdir(exist_ok=True)
    (_common.RESULTS / "allocation.json").write_text(json.dumps(report, indent=2))
    m = report["machine"]
    print(
        f"{opts.hosts:,} hosts, {runs} runs per case, gc {opts.gc}; "
        f"{m['nproc']} x {m['cpu']}, Python {m['python']}"
    )
    print(f"1-minute load before / after: {load_before:.1f} / {os.getloadavg()[0]:.1f}\n")
    print("| case | strategy | fit / rejected | p50 ms | p95 ms | max ms | CPU ms per call |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for c in cases:
        print(
            f"| {c['case']} | {c['strategy']} | {c['fit']:,} / {c['rejected']:,} | "
            f"{c['p50_ms']:.2f} | {c['p95_ms']:.2f} | {c['max_ms']:.2f} | {c['cpu_ms']:.2f} |"
        )

    if db_cases:
        _print_db(db_cases)


def _print_db(db_cases: list[dict[str, Any]]) -> None:
    print(
        "\n| through the database | backend | strategy | locations | fitting (not examined) "
        "| rejected by reason | p50 ms | p95 ms | max ms |"
    )
    print("|---|---|---|---:|---:|---|---:|---:|---:|")
    for c in db_cases:
        reasons = ", ".join(f"{k} {v:,}" for k, v in c["rejected"].items())
        print(
            f"| {c['case']} | {c['backend']} | {c['strategy']} | {c['locations']} | "
            f"{c['fitting']:,} ({c['not_examined']:,}) | {reasons} | {c['p50_ms']:.2f} | "
            f"{c['p95_ms']:.2f} | {c['max_ms']:.2f} | {c['cpu_ms']:.2f} | "
            f"{c['commit_p50_ms']:.2f} |"
        )


if __name__ == "__main__":
    main()
