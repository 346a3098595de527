import { screen } from "@testing-library/react";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Shell } from "../components/Shell";
import { apiError, fakeFetch, json } from "../test/fetch";
import { renderAt } from "../test/render";
import { RequireSession } from "./session";

afterEach(() => vi.unstubAllGlobals());

const guarded = (
  <RequireSession>
    <Shell />
  </RequireSession>
);

describe("the session guard", () => {
  it("sends someone without a session to the login page", async () => {
    fakeFetch(() => apiError(401, "HTTPError", "not signed in"));
    renderAt(guarded, { path: "/orders/42" });
    expect(await screen.findByText("login page")).toBeInTheDocument();
  });

  it("shows the signed-in user, their role and the navigation", async () => {
    fakeFetch(() => json({ id: 3, username: "grace", role: "operator" }));
    renderAt(guarded, { path: "/orders" });
    const account = await screen.findByRole("link", { name: "Your account: grace" });
    expect(account).toHaveAttribute("href", "/account");
    expect(screen.getByLabelText("Role")).toHaveTextContent("operator");
    for (const name of ["Orders", "Runs", "Webhook deliveries", "Connections", "Plugins"]) {
      expect(screen.getByRole("link", { name })).toBeInTheDocument();
    }
    expect(screen.getByRole("button", { name: "Log out" })).toBeInTheDocument();
  });

  it("shows Users and tokens to admins only", async () => {
    fakeFetch(() => json({ id: 1, username: "root", role: "admin" }));
    const admin = renderAt(guarded, { path: "/orders" });
    expect(await screen.findByRole("link", { name: "Users and tokens" })).toHaveAttribute("href", "/users");
    admin.unmount();
    for (const role of ["operator", "viewer"]) {
      vi.unstubAllGlobals();
      fakeFetch(() => json({ id: 3, username: "grace", role }));
      const view = renderAt(guarded, { path: "/orders" });
      await screen.findByRole("link", { name: "Your account: grace" });
      expect(screen.getByRole("link", { name: "Orders" })).toBeInTheDocument();
      expect(screen.queryByRole("link", { name: "Users and tokens" })).toBeNull();
      view.unmount();
    }
  });

  it("says so when the API cannot be reached", async () => {
    fakeFetch(() => apiError(503, "DatabaseUnavailable", "the database is away"));
    renderAt(guarded, { path: "/orders" });
    expect(await screen.findByRole("alert")).toHaveTextContent("the database is away");
  });
});
