import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { renderAt } from "../../test/render";
import { CataloguePage } from "./CataloguePage";
import { bodies, choose, fakeCatalogue, fill, prepareScreens, problem, type Row } from "./fakeCatalogue";

afterEach(() => vi.unstubAllGlobals());
prepareScreens();

const at = (path: string) => renderAt(<CataloguePage />, { path, route: "/catalogue/*" });

const PRODUCT: Row = {
  id: 4,
  slug: "vps-2g",
  name: "VPS 2 GB",
  service_type: "vps",
  location: "fra1",
  connection: "panel",
  plugin: "solusvm2",
  plugin_version: null,
  image: "debian-12",
  options: { plan_id: 2 },
  ram_mb: 2048,
  vcpus: 1,
  disk_gb: 40,
  price_minor: 900,
  currency: "EUR",
  refund_policy: "suspend",
  alarm_after_minutes: 30,
  password_delivery: "mail",
};
const ROWS = {
  products: [PRODUCT],
  locations: [{ id: 1, code: "fra1", name: "Frankfurt 1" }],
  images: [{ id: 2, slug: "debian-12", name: "Debian 12" }],
};

describe("the product form", () => {
  it("creates a product from the plugins, connections and locations the API lists", async () => {
    const calls = fakeCatalogue({ rows: ROWS });
    at("/catalogue/products/new");
    await screen.findByRole("button", { name: "Create product" });
    await fill(screen.getByRole("textbox", { name: /^Slug/ }), "web-1");
    await fill(screen.getByRole("textbox", { name: /^Name/ }), "Web 1");
    await choose(/^Location/, /fra1 — Frankfurt 1/);
    await choose(/^Connection/, /panel \(solusvm2\)/);
    // Picking a plugin proposes its service type, and the version policy starts at "newest".
    await choose(/^Plugin$/, /^whm/);
    expect(screen.getByRole("combobox", { name: /^Service type/ })).toHaveValue("shared");
    await choose(/^Plugin version/, /^v1 /);
    await choose(/^Refund policy/, /^terminate$/);
    await choose(/^Password delivery/, /^reveal_link/);
    await fill(screen.getByRole("textbox", { name: /^Alarm after/ }), "45");
    await userEvent.click(screen.getByRole("button", { name: "Create product" }));
    expect(await screen.findByRole("heading", { name: "Product web-1" })).toBeInTheDocument();
    const [created] = await bodies(calls, "POST");
    expect(created).toMatchObject({
      slug: "web-1",
      location: "fra1",
      connection: "panel",
      plugin: "whm",
      plugin_version: 1,
      service_type: "shared",
      refund_policy: "terminate",
      password_delivery: "reveal_link",
      alarm_after_minutes: 45,
      image: null,
      options: {},
    });
  });

  it("shows the API's problems on the fields, options included", async () => {
    const calls = fakeCatalogue({
      rows: ROWS,
      refuse: (method) =>
        method === "PATCH"
          ? problem(422, "InvalidSettings", "product is invalid", [
              { path: "options.plan_id", message: "'two' is not of type 'integer'" },
              { path: "ram_mb", message: "Input should be a valid integer" },
            ])
          : undefined,
    });
    at("/catalogue/products/4");
    await screen.findByRole("button", { name: "Save changes" });
    const options = screen.getByRole("textbox", { name: /^Options/ });
    await userEvent.clear(options);
    await userEvent.click(options);
    await userEvent.paste('{"plan_id": "two"}');
    await userEvent.clear(screen.getByRole("textbox", { name: /^RAM/ }));
    await userEvent.click(screen.getByRole("button", { name: "Save changes" }));
    await waitFor(() => expect(options).toHaveAccessibleDescription(/plan_id: 'two' is not of type 'integer'/));
    expect(screen.getByRole("textbox", { name: /^RAM/ })).toHaveAccessibleDescription(/valid integer/);
    // The browser checks nothing: the API says what is wrong.
    expect(await bodies(calls, "PATCH")).toEqual([{ options: { plan_id: "two" }, ram_mb: null }]);
  });

  it("pins and unpins the plugin version", async () => {
    const calls = fakeCatalogue({ rows: ROWS });
    at("/catalogue/products/4");
    await screen.findByRole("button", { name: "Save changes" });
    expect(screen.getByRole("combobox", { name: /^Plugin version/ })).toHaveValue("the newest when a service is provisioned");
    await choose(/^Plugin version/, /^v2 /);
    await userEvent.click(screen.getByRole("button", { name: "Save changes" }));
    await screen.findByText("Saved.");
    expect(await bodies(calls, "PATCH")).toEqual([{ plugin_version: 2 }]);
  });

  it("shows why a product with orders cannot be deleted", async () => {
    fakeCatalogue({
      rows: ROWS,
      refuse: (method) =>
        method === "DELETE" ? problem(409, "Conflict", "product vps-2g has 3 orders: it cannot be deleted while in use") : undefined,
    });
    at("/catalogue/products/4");
    await userEvent.click(await screen.findByRole("button", { name: "Delete" }));
    await userEvent.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Delete" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("product vps-2g has 3 orders");
  });

  it.each(["viewer", "operator"] as const)("is read-only for a%s", async (role) => {
    fakeCatalogue({ role, rows: ROWS });
    at("/catalogue/products/4");
    expect(await screen.findByRole("textbox", { name: /^Slug/ })).toBeDisabled();
    expect(screen.getByRole("textbox", { name: /^Options/ })).toBeDisabled();
    expect(screen.queryByRole("button", { name: "Save changes" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Delete" })).toBeNull();
  });
});

describe("the products list", () => {
  it("shows plugin policy, resources and price, filtered by the URL", async () => {
    const calls = fakeCatalogue({ rows: ROWS });
    at("/catalogue/products?plugin=solusvm2");
    const table = await screen.findByRole("table", { name: "Products" });
    expect(table).toHaveTextContent("solusvm2 (newest)");
    expect(table).toHaveTextContent("2048 MB · 1 vCPU · 40 GB");
    expect(table).toHaveTextContent("9.00 EUR");
    const asked = calls.map((c) => new URL(c.url)).filter((u) => u.pathname === "/api/v1/products");
    expect(asked.map((u) => u.searchParams.get("plugin"))).toContain("solusvm2");
  });
});
