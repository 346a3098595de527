import { describe, expect, it } from "vitest";
import { type Order, timeline } from "./timeline";

const at = (s: number) => `2026-12-07T20:00:${String(s).padStart(2, "0")}Z`;

function attempt(number: number, outcome: string, from: number, to: number) {
  return {
    run_id: 9,
    number,
    outcome,
    started_at: at(from),
    finished_at: at(to),
    duration_seconds: to - from,
    error: null,
    exchanges: [],
  };
}

function order(overrides: Partial<Order> = {}): Order {
  return {
    id: 7,
    hostname: "vps7.example.com",
    state: "provisioning",
    invoice: null,
    service: null,
    run: {
      id: 9,
      state: "failed",
      phase: "provision",
      attempt: 3,
      next_run_at: at(30),
      wait_reason: null,
      lease_owner: null,
      last_error: { code: "PermanentUpstreamError", message: "422 from the panel" },
      last_upstream: { response: { status: 422 } },
    },
    phases: [
      { phase: "billing", status: "done", output: {}, attempts: [], suggestion: null },
      {
        phase: "allocation",
        status: "done",
        output: { host: 1 },
        attempts: [attempt(1, "completed", 2, 5)],
        suggestion: null,
      },
      {
        phase: "provision",
        status: "failed",
        output: null,
        attempts: [attempt(1, "retrying", 6, 7), attempt(2, "failed", 7, 8)],
        suggestion: { action: "check_connection", message: "check it", from_phase: null, link: null },
      },
      { phase: "os_install", status: "pending", output: null, attempts: [], suggestion: null },
    ],
    activity: [
      { id: 1, at: at(1), event: "invoice_paid", phase: "billing", message: "paid", data: {} },
      { id: 2, at: at(1), event: "phase_completed", phase: "billing", message: "billing completed", data: {} },
      { id: 3, at: at(2), event: "run_started", phase: "allocation", message: "started", data: {} },
      { id: 4, at: at(5), event: "phase_completed", phase: "allocation", message: "allocation completed", data: {} },
      { id: 5, at: at(6), event: "phase_retry", phase: "provision", message: "attempt 1 failed, retrying", data: {} },
      { id: 6, at: at(8), event: "phase_failed", phase: "provision", message: "gave up", data: {} },
    ],
    ...overrides,
  } as Order;
}

describe("timeline", () => {
  it("gives each phase its span, attempts and last word, in the API's order", () => {
    const [billing, allocation, provision, install] = timeline(order());
    expect(allocation).toMatchObject({ startedAt: at(2), endedAt: at(5), failedAttempts: 0, current: false });
    expect(billing?.lastMessage).toBe("billing completed");
    expect(provision).toMatchObject({ status: "failed", current: true, failedAttempts: 2, lastMessage: "gave up" });
    expect(provision?.suggestion?.action).toBe("check_connection");
    expect(billing?.startedAt).toBe(at(1)); // no attempt recorded: its first activity
    expect(provision?.endedAt).toBeUndefined();
    expect(install).toMatchObject({ status: "pending", current: false, failedAttempts: 0 });
    expect(install?.startedAt).toBeUndefined();
  });

  it("puts nothing current once the run completed", () => {
    const done = order({
      run: { ...order().run!, state: "completed", phase: "handoff", attempt: 0 },
      phases: [{ phase: "handoff", status: "done", output: {}, attempts: [], suggestion: null }],
    });
    expect(timeline(done).some((e) => e.current)).toBe(false);
  });
});
