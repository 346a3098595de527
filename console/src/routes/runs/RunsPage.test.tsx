import { screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeFetch, json } from "../../test/fetch";
import { renderAt } from "../../test/render";
import { RunsPage } from "./RunsPage";

afterEach(() => vi.unstubAllGlobals());

const RUN = {
  id: 3,
  order_id: 8,
  kind: "provision",
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

  it("ignores a state the API does not know", async () => {
    const calls = fakeFetch(() => json({ items: [], next_cursor: null }));
    renderAt(<RunsPage />, { path: "/runs?state=exploded" });
    expect(await screen.findByText(/No runs yet/)).toBeInTheDocument();
    expect(new URL(calls[0]!.url).searchParams.has("state")).toBe(false);
  });
});
