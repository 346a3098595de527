import { QueryClient } from "@tanstack/react-query";
import { afterEach, describe, expect, it, vi } from "vitest";
import { followEvents, staleKeys } from "./events";

class FakeEventSource {
  static last: FakeEventSource | undefined;
  readonly listeners = new Map<string, (event: MessageEvent<string>) => void>();
  closed = false;
  constructor(readonly url: string) {
    FakeEventSource.last = this;
  }
  addEventListener(kind: string, listener: (event: MessageEvent<string>) => void) {
    this.listeners.set(kind, listener);
  }
  close() {
    this.closed = true;
  }
  emit(kind: string, data: string) {
    this.listeners.get(kind)?.(new MessageEvent(kind, { data }));
  }
}

afterEach(() => vi.unstubAllGlobals());

describe("staleKeys", () => {
  it("marks orders and runs stale when an order moves", () => {
    expect(staleKeys("order", { order_id: 4 })).toContainEqual(["orders"]);
    expect(staleKeys("run", {})).toContainEqual(["runs"]);
  });
  it("marks the services stale when a run moves (a lifecycle action's progress)", () => {
    expect(staleKeys("run", { run_id: 7, order_id: 4 })).toContainEqual(["services"]);
    expect(staleKeys("service", { order_id: 4 })).toContainEqual(["services"]);
    expect(staleKeys("delivery", {})).not.toContainEqual(["services"]);
  });
  it("marks everything stale on reset", () => {
    expect(staleKeys("reset", {})).toEqual([[]]);
  });
});

describe("followEvents", () => {
  it("refetches what an event names, and stops when asked", async () => {
    vi.stubGlobal("EventSource", FakeEventSource);
    const client = new QueryClient();
    const invalidate = vi.spyOn(client, "invalidateQueries");
    const stop = followEvents(client);
    const source = FakeEventSource.last!;
    expect(source.url).toBe("/api/v1/events");
    source.emit("order", '{"order_id": 4, "event": "phase_completed"}');
    expect(invalidate).toHaveBeenCalledWith({ queryKey: ["orders"] });
    source.emit("delivery", "not json");
    expect(invalidate).toHaveBeenCalledWith({ queryKey: ["deliveries"] });
    stop();
    expect(source.closed).toBe(true);
  });
});
