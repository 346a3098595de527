"""The DCIM sync phase: push one service's placement to the inventory system (NetBox).

A run of its own (`pipeline.DCIM_SYNC`), enqueued by the network phase's commit: an
inventory system that is down delays the sync (transient errors are retried by the
engine's policy), never the customer's service. `execute` reads our facts and what we
last pushed, and calls `network.dcim_sync.sync` (lookup before create: a retry finds what
an earlier attempt made). `commit` keeps the pushed state and the drift, and writes
`dcim_synced`, plus one `dcim_drift` row per field someone edited in NetBox (left alone).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from fluxbilling.engine.context import PhaseContext
from fluxbilling.engine.outcome import Done, Outcome
from fluxbilling.network import dcim_sync
from fluxbilling.network.dcim_drift import Drift, Kind, Value
from fluxbilling.orders.phases.deps import PhaseDeps

__all__ = ["DcimSyncPhase"]


def _result(out: Mapping[str, Any]) -> dcim_sync.SyncResult:
    return dcim_sync.SyncResult(
        pushed=tuple(
            dcim_sync.Pushed(Kind(p["kind"]), p["key"], int(p["remote_id"]), p["fields"])
            for p in out["pushed"]
        ),
        created=tuple(out["created"]),
        updated=tuple(out["updated"]),
        drift=tuple(
            Drift(Kind(d["kind"]), d["key"], d["field"], d["ours"], d["theirs"], d["pushed"])
            for d in out["drift"]
        ),
        in_sync=tuple(out["in_sync"]),
    )


def _drift_data(drift: Drift) -> dict[str, Value]:
    return {
        "kind": drift.kind.value,
        "key": drift.key,
        "field": drift.field,
        "ours": drift.ours,
        "theirs": drift.theirs,
        "pushed": drift.pushed,
    }


class DcimSyncPhase:
    """Syncs the order's service to the inventory system."""

    def __init__(self, deps: PhaseDeps) -> None:
        self.deps = deps

    async def execute(self, ctx: PhaseContext) -> Outcome:
        """Find, create or update the service's objects; nothing is written to our database."""
        view = await self.deps.store.view(ctx.order_id)
        service_id = int(view.service["id"])
        dcim = self.deps.dcim
        facts = None if dcim is None else await dcim.records.facts(service_id)
        if dcim is None or facts is None:
            reason = "no inventory system configured" if dcim is None else "nothing recorded"
            return Done({"service_id": service_id, "skipped": reason})
        wanted = dcim_sync.objects(facts)
        pushed = await dcim.records.pushed([(w.kind.value, w.key) for w in wanted])
        result = await dcim_sync.sync(dcim.sync, facts, pushed)
        return Done(
            {
                "service_id": service_id,
                "pushed": [
                    {
                        "kind": p.kind.value,
                        "key": p.key,
                        "remote_id": p.remote_id,
                        "fields": dict(p.fields),
                    }
                    for p in result.pushed
                ],
                "created": list(result.created),
                "updated": list(result.updated),
                "in_sync": list(result.in_sync),
                "drift": [_drift_data(d) for d in result.drift],
                "summary": result.summary(),
            }
        )

    async def commit(
        self, conn: AsyncConnection, ctx: PhaseContext, done: Done
    ) -> Mapping[str, Any]:
        """Keep what was pushed and the drift; record the sync and each new drift."""
        out = done.output
        writes = self.deps.store.writes(conn, ctx)
        if "skipped" in out or self.deps.dcim is None:
            await writes.record("dcim_sync_skipped", f"DCIM sync skipped: {out.get('skipped')}", {})
            return out
        new = await self.deps.dcim.records.save(conn, int(out["service_id"]), _result(out))
        await writes.record(
            "dcim_synced",
            f"DCIM synced to the inventory system: {out['summary']}",
            {"created": out["created"], "updated": out["updated"]},
        )
        for drift in new:
            await writes.record(
                "dcim_drift",
                f"{drift.kind} {drift.key}: {drift.field} was edited in the inventory system "
                f"({drift.theirs!r}, ours {drift.ours!r}); left alone",
                _drift_data(drift),
            )
        return out
