/**
 * An order's phases as a timeline (Temporal-style): each phase's attempts, when it started and
 * ended, how long it took, how many attempts failed, what it last said, and the API's
 * suggested action. Derived from what the API answered, never decided here.
 */
import type { Schemas } from "../../api/client";

export type Order = Schemas["OrderOut"];
export type Attempt = Schemas["PhaseAttemptOut"];

export interface TimelineEntry {
  phase: Schemas["Phase"];
  status: Schemas["PhaseStatus"];
  attempts: Attempt[];
  startedAt?: string;
  endedAt?: string;
  /** Attempts that did not go on (retrying, parked or failed). */
  failedAttempts: number;
  lastMessage?: string;
  /** The run stands at this phase and it is not done. */
  current: boolean;
  suggestion: Schemas["SuggestionOut"] | null;
  output: unknown;
}

const FAILED: ReadonlySet<Attempt["outcome"]> = new Set(["retrying", "parked", "failed"]);

export function timeline(order: Order): TimelineEntry[] {
  const messages = new Map<string, string>();
  const firstSeen = new Map<string, string>();
  for (const event of order.activity) {
    if (!event.phase) continue;
    messages.set(event.phase, event.message);
    if (!firstSeen.has(event.phase)) firstSeen.set(event.phase, event.at);
  }
  return order.phases.map((p) => {
    const first = p.attempts[0];
    const last = p.attempts[p.attempts.length - 1];
    const entry: TimelineEntry = {
      phase: p.phase,
      status: p.status,
      attempts: p.attempts,
      failedAttempts: p.attempts.filter((a) => FAILED.has(a.outcome)).length,
      current: order.run?.phase === p.phase && p.status !== "done",
      suggestion: p.suggestion,
      output: p.output,
    };
    const started = first?.started_at ?? firstSeen.get(p.phase);
    if (started) entry.startedAt = started;
    if (last && p.status === "done") entry.endedAt = last.finished_at;
    const message = messages.get(p.phase);
    if (message) entry.lastMessage = message;
    return entry;
  });
}
