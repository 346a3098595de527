import { screen, within } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { apiError, fakeFetch, json } from "../../test/fetch";
import { renderAt } from "../../test/render";
import { DashboardPage, alarmTarget } from "./DashboardPage";

afterEach(() => vi.unstubAllGlobals());

const STATES = ["awaiting_payment", "provisioning_pending", "provisioning", "active", "failed", "cancelled"];
const PHASES = ["billing", "allocation", "provision", "os_install", "network", "handoff"];

function board(overrides: Record<string, unknown> = {}) {
  return {
    now: "2026-12-07T20:00:00Z",
    states: STATES.map((state) => ({ state, count: { active: 4, failed: 1 }[state] ?? 0 })),
    phases: PHASES.map((phase) => ({
      phase,
      running: phase === "provision" ? 2 : 0,
      waiting: 0,
      failed: phase === "os_install" ? 1 : 0,
      parked: phase === "allocation" ? 3 : 0,
    })),
    alarm_counts: [
      { kind: "order_not_active", count: 1 },
      { kind: "delivery_rejected", count: 1 },
      { kind: "host_quarantined", count: 1 },
    ],
    alarms: [
      {
        kind: "order_not_active",
        message: "order 8 (a.example.com) was paid 90 min ago and is failed at os_install (alarm after 60 min)",
        since: "2026-12-07T19:30:00Z",
        link: { kind: "order", id: "8" },
      },
      {
        kind: "delivery_rejected",
        message: "stripe delivery 7 rejected: bad signature",
        since: "2026-12-07T19:00:00Z",
        link: { kind: "delivery", id: "7" },
      },
      {
        kind: "host_quarantined",
        message: "host hv1 is quarantined: no new orders are placed on it",
        since: null,
        link: { kind: "host", id: "3" },
      },
    ],
    ...overrides,
  };
}

describe("the dashboard", () => {
  it("links each order count to the orders in that state", async () => {
    const calls = fakeFetch(() => json(board()));
    renderAt(<DashboardPage />, { path: "/dashboard" });
    expect(await screen.findByRole("link", { name: "4 active orders" })).toHaveAttribute("href", "/orders?state=active");
    expect(screen.getByRole("link", { name: "1 failed orders" })).toHaveAttribute("href", "/orders?state=failed");
    expect(screen.getByRole("link", { name: "0 cancelled orders" })).toHaveAttribute(
      "href",
      "/orders?state=cancelled",
    );
    expect(new URL(calls[0]!.url).pathname).toBe("/api/v1/dashboard");
  });

  it("links each run count to the runs at that phase, in that state", async () => {
    fakeFetch(() => json(board()));
    renderAt(<DashboardPage />, { path: "/dashboard" });
    expect(await screen.findByRole("link", { name: "2 running at provision" })).toHaveAttribute(
      "href",
      "/runs?kind=provision&phase=provision&state=running",
    );
    expect(screen.getByRole("link", { name: "1 failed at os install" })).toHaveAttribute(
      "href",
      "/runs?kind=provision&phase=os_install&state=failed",
    );
    expect(screen.getByRole("link", { name: "3 parked at allocation" })).toHaveAttribute(
      "href",
      "/runs?kind=provision&phase=allocation&state=queued",
    );
    expect(screen.getByLabelText("0 failed at network")).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "0 failed at network" })).toBeNull();
  });

  it("lists the alarms, each linking to its order, delivery or host", async () => {
    fakeFetch(() => json(board()));
    renderAt(<DashboardPage />, { path: "/dashboard" });
    const alarms = await screen.findByRole("table", { name: "Alarms" });
    expect(within(alarms).getByText(/bad signature/)).toBeInTheDocument();
    expect(within(alarms).getByRole("link", { name: "Order 8" })).toHaveAttribute("href", "/orders/8");
    expect(within(alarms).getByRole("link", { name: "Delivery 7" })).toHaveAttribute("href", "/deliveries/7");
    expect(within(alarms).getByRole("link", { name: "Host 3" })).toHaveAttribute("href", "/catalogue/hosts/3");
    expect(screen.getByLabelText("1 host quarantined")).toBeInTheDocument();
  });

  it("says when there are no alarms and no orders", async () => {
    fakeFetch(() =>
      json(
        board({
          states: STATES.map((state) => ({ state, count: 0 })),
          phases: PHASES.map((phase) => ({ phase, running: 0, waiting: 0, failed: 0, parked: 0 })),
          alarm_counts: [],
          alarms: [],
        }),
      ),
    );
    renderAt(<DashboardPage />, { path: "/dashboard" });
    expect(await screen.findByText(/No alarms/)).toBeInTheDocument();
    expect(screen.getByText(/No orders yet/)).toBeInTheDocument();
  });

  it("shows the loading state, then the API's error", async () => {
    let answer: (response: Response) => void = () => {};
    fakeFetch(() => new Promise<Response>((resolve) => (answer = resolve)));
    renderAt(<DashboardPage />, { path: "/dashboard" });
    expect(await screen.findByRole("status")).toHaveTextContent("Loading the dashboard");
    answer(apiError(503, "DatabaseUnavailable", "the database is not answering"));
    expect(await screen.findByRole("alert")).toHaveTextContent("the database is not answering");
  });

  it("knows the page of each kind of alarm link", () => {
    expect(alarmTarget({ kind: "host", id: "3" })).toEqual({ to: "/catalogue/hosts/3", label: "Host 3" });
    expect(alarmTarget({ kind: "connection", id: "x" })).toBeUndefined();
  });
});
