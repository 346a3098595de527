import { screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { fakeFetch, json } from "../../test/fetch";
import { renderAt } from "../../test/render";
import { DeliveriesPage } from "./DeliveriesPage";

afterEach(() => vi.unstubAllGlobals());

describe("the webhook deliveries", () => {
  it("shows whether each verified, what it did, and why not", async () => {
    const calls = fakeFetch(() =>
      json({
        items: [
          {
            id: 5,
            gateway: "stripe",
            received_at: "2026-12-07T20:00:00Z",
            remote_addr: "203.0.113.9",
            event_id: null,
            event_type: null,
            invoice_id: null,
            verification: "invalid",
            outcome: "rejected",
            reason: "signature does not match",
            attempts: 1,
          },
        ],
        next_cursor: null,
      }),
    );
    renderAt(<DeliveriesPage />, { path: "/deliveries?verification=invalid" });
    expect(await screen.findByText("signature does not match")).toBeInTheDocument();
    expect(screen.getByRole("table", { name: "Webhook deliveries" })).toHaveTextContent("invalid");
    expect(new URL(calls[0]!.url).searchParams.get("verification")).toBe("invalid");
  });
});
