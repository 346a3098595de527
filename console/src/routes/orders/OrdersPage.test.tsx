import { screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { apiError, fakeFetch, json } from "../../test/fetch";
import { renderAt } from "../../test/render";
import { OrdersPage } from "./OrdersPage";

afterEach(() => vi.unstubAllGlobals());

const ORDER = {
  id: 7,
  hostname: "vps7.example.com",
  state: "failed",
  product: "vps-2g",
  customer_email: "ada@example.com",
  phase: "provision",
  run_state: "failed",
  attempt: 1,
  last_error: "PermanentUpstreamError: HTTP 422",
  created_at: "2026-12-07T20:00:00Z",
  updated_at: "2026-12-07T20:00:05Z",
};

describe("the orders list", () => {
  it("asks the API with the filters in the address and links each order", async () => {
    const calls = fakeFetch(() => json({ items: [ORDER], next_cursor: null }));
    renderAt(<OrdersPage />, { path: "/orders?state=failed&q=vps7" });
    expect(await screen.findByRole("link", { name: "Order 7" })).toHaveAttribute("href", "/orders/7");
    expect(screen.getByText("PermanentUpstreamError: HTTP 422")).toBeInTheDocument();
    const asked = new URL(calls.find((c) => new URL(c.url).pathname === "/api/v1/orders")!.url);
    expect(asked.pathname).toBe("/api/v1/orders");
    expect(asked.searchParams.get("state")).toBe("failed");
    expect(asked.searchParams.get("q")).toBe("vps7");
  });

  it("offers a new order to an operator, not to a viewer", async () => {
    const serve = (role: string) =>
      fakeFetch((request) =>
        new URL(request.url).pathname === "/api/v1/auth/me"
          ? json({ id: 1, username: "ops", role })
          : json({ items: [ORDER], next_cursor: null }),
      );
    serve("operator");
    const { unmount } = renderAt(<OrdersPage />, { path: "/orders" });
    expect(await screen.findByRole("link", { name: "New order" })).toHaveAttribute("href", "/orders/new");
    unmount();
    serve("viewer");
    renderAt(<OrdersPage />, { path: "/orders" });
    expect(await screen.findByRole("link", { name: "Order 7" })).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "New order" })).toBeNull();
  });

  it("says when nothing matches", async () => {
    fakeFetch(() => json({ items: [], next_cursor: null }));
    renderAt(<OrdersPage />, { path: "/orders?state=cancelled" });
    expect(await screen.findByText("No orders match.")).toBeInTheDocument();
  });

  it("shows the API's error", async () => {
    fakeFetch(() => apiError(503, "DatabaseUnavailable", "the database is away"));
    renderAt(<OrdersPage />, { path: "/orders" });
    expect(await screen.findByRole("alert")).toHaveTextContent("the database is away");
  });
});
