/**
 * An order's phases as a timeline (Temporal-style): when each started and ended, how long it
 * took, how many attempts failed, what it last said. Derived from what the API answered (the
 * phases, the run and the activity), never decided here.
 */
import type { Schemas } from "../../api/client";

export type Order = Schemas["OrderOut"];
type Activity = Schemas["ActivityOut"];

export interface TimelineEntry {
  phase: Schemas["Phase"];
  status: Schemas["PhaseStatus"];
  startedAt?: string;
  endedAt?: string;
  /** Attempts that failed (the run's count for the phase it stands at). */
  failedAttempts: number;
  lastMessage?: string;
  /** The run stands at this phase: its error and upstream exchange belong here. */
  current: boolean;
  output: unknown;
}

const ENDS = new Set(["phase_completed"]);
const FAILS = new Set(["phase_failed", "phase_retry", "phase_parked"]);

export function timeline(order: Order): TimelineEntry[] {
  const byPhase = new Map<string, Activity[]>();
  for (const event of order.activity) {
    if (!event.phase) continue;
    const list = byPhase.get(event.phase) ?? [];
    list.push(event);
    byPhase.set(event.phase, list);
  }
  return order.phases.map((p) => {
    const events = byPhase.get(p.phase) ?? [];
    const current = order.run?.phase === p.phase && p.status !== "done";
    const ended = [...events].reverse().find((e) => ENDS.has(e.event));
    const failed = events.filter((e) => FAILS.has(e.event)).length;
    const entry: TimelineEntry = {
      phase: p.phase,
      status: p.status,
      failedAttempts: current ? Math.max(order.run?.attempt ?? 0, failed) : failed,
      current,
      output: p.output,
    };
    const first = events[0];
    const last = events[events.length - 1];
    if (first) entry.startedAt = first.at;
    if (ended && p.status === "done") entry.endedAt = ended.at;
    if (last) entry.lastMessage = last.message;
    return entry;
  });
}
