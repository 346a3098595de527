import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { apiError, fakeFetch, json } from "../../test/fetch";
import { renderAt } from "../../test/render";
import { ServicesPage } from "./ServicesPage";

afterEach(() => vi.unstubAllGlobals());

const SERVICE = {
  id: 5,
  order_id: 12,
  hostname: "vps12.example.com",
  state: "suspended",
  product: "vps-2g",
  plugin: "solusvm2@1",
  host: "kvm-ams1-01",
  created_at: "2026-12-07T20:00:00+00:00",
  updated_at: "2026-12-07T20:05:00+00:00",
};

describe("the services list", () => {
  it("sends the filters in the address and links each service and its order", async () => {
    const calls = fakeFetch(() => json({ items: [SERVICE], next_cursor: 4 }));
    renderAt(<ServicesPage />, { path: "/services?state=suspended&plugin=solusvm2&host=kvm-ams1-01&q=vps12" });
    expect(await screen.findByText("vps12.example.com")).toBeInTheDocument();
    expect(screen.getByRole("link", { name: "Service 5" })).toHaveAttribute("href", "/services/5");
    expect(screen.getByRole("link", { name: "Order 12" })).toHaveAttribute("href", "/orders/12");
    const sent = new URL(calls[0]!.url).searchParams;
    expect([sent.get("state"), sent.get("plugin"), sent.get("host"), sent.get("q")]).toEqual([
      "suspended",
      "solusvm2",
      "kvm-ams1-01",
      "vps12",
    ]);
    expect(screen.getByRole("button", { name: "Older" })).toBeEnabled();
  });

  it("searches on Enter and starts from the newest page", async () => {
    const calls = fakeFetch(() => json({ items: [], next_cursor: null }));
    renderAt(<ServicesPage />, { path: "/services?cursor=9" });
    expect(await screen.findByText(/No services yet/)).toBeInTheDocument();
    await userEvent.type(screen.getByRole("textbox", { name: "Search services" }), "alpha{Enter}");
    expect(await screen.findByText("No services match.")).toBeInTheDocument();
    const last = new URL(calls[calls.length - 1]!.url).searchParams;
    expect(last.get("q")).toBe("alpha");
    expect(last.has("cursor")).toBe(false);
  });

  it("ignores a state the API does not know", async () => {
    const calls = fakeFetch(() => json({ items: [], next_cursor: null }));
    renderAt(<ServicesPage />, { path: "/services?state=exploded" });
    await screen.findByText(/No services/);
    expect(new URL(calls[0]!.url).searchParams.has("state")).toBe(false);
  });

  it("shows loading, then the API's error", async () => {
    fakeFetch(() => apiError(422, "RequestValidationError", "q: must not contain a line break"));
    renderAt(<ServicesPage />, { path: "/services" });
    expect(screen.getByRole("status")).toHaveTextContent("Loading services");
    expect(await screen.findByRole("alert")).toHaveTextContent("q: must not contain a line break");
  });
});
