import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeFetch, json } from "../../test/fetch";
import { renderAt } from "../../test/render";
import { RunsPage } from "./RunsPage";

afterEach(() => vi.unstubAllGlobals());

const RUN = {
  id: 3,
  order_id: 8,
  kind: "provision",
  verb: null,
  service_id: null,
  state: "failed",
  phase: "network",
  attempt: 2,
  wait_reason: null,
  last_error: { code: "TransientUpstreamError", message: "gave up after 2 attempts" },
  last_upstream: null,
  updated_at: "2026-12-07T20:00:00Z",
};

describe("the runs list", () => {
  it("asks for the state in the address and shows each run's last error", async () => {
    const calls = fakeFetch(() => json({ items: [RUN], next_cursor: 2 }));
    renderAt(<RunsPage />, { path: "/runs?state=failed" });
    expect(await screen.findByText("gave up after 2 attempts")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Order 8" })).toHaveAttribute("href", "/orders/8");
    expect(new URL(calls[0]!.url).searchParams.get("state")).toBe("failed");
    expect(screen.getByRole("button", { name: "Older" })).toBeEnabled();
  });

  it("ignores filters the API does not know", async () => {
    const calls = fakeFetch(() => json({ items: [], next_cursor: null }));
    renderAt(<RunsPage />, { path: "/runs?state=exploded&kind=explode&phase=nowhere&order_id=-3" });
    expect(await screen.findByText(/No runs yet/)).toBeInTheDocument();
    expect([...new URL(calls[0]!.url).searchParams.keys()]).toEqual([]);
  });

  it("asks for the kind, phase and order in the address", async () => {
    const calls = fakeFetch(() => json({ items: [], next_cursor: null }));
    renderAt(<RunsPage />, { path: "/runs?kind=suspend&phase=action&order_id=8" });
    expect(await screen.findByText("No runs match.")).toBeInTheDocument();
    const asked = new URL(calls[0]!.url).searchParams;
    expect([asked.get("kind"), asked.get("phase"), asked.get("order_id")]).toEqual(["suspend", "action", "8"]);
    expect(screen.getByRole("textbox", { name: "Order id" })).toHaveValue("8");
  });

  it("filters by an order typed in", async () => {
    const calls = fakeFetch(() => json({ items: [RUN], next_cursor: null }));
    renderAt(<RunsPage />, { path: "/runs?state=failed" });
    await screen.findByText("gave up after 2 attempts");
    await userEvent.type(screen.getByRole("textbox", { name: "Order id" }), "8{Enter}");
    await waitFor(() => expect(calls).toHaveLength(2));
    const asked = new URL(calls[1]!.url).searchParams;
    expect([asked.get("state"), asked.get("order_id")]).toEqual(["failed", "8"]);
  });

  it("links an action run to its service", async () => {
    fakeFetch(() =>
      json({ items: [{ ...RUN, id: 4, kind: "action", verb: "reset_password", service_id: 5 }], next_cursor: null }),
    );
    renderAt(<RunsPage />, { path: "/runs" });
    expect(await screen.findByRole("link", { name: "Service 5" })).toHaveAttribute("href", "/services/5");
    expect(within(screen.getByRole("table", { name: "Runs" })).getByText("action: reset password")).toBeInTheDocument();
  });
});
