import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Route, Routes } from "react-router";
import { type Handler, apiError, fakeFetch, json } from "../../test/fetch";
import { renderAt } from "../../test/render";
import { NewOrderPage } from "./NewOrderPage";

afterEach(() => vi.unstubAllGlobals());

const PRODUCT = { slug: "vps-2g", name: "VPS 2 GB", price_minor: 1200, currency: "EUR" };

function serve(order: Handler, role = "operator") {
  return fakeFetch((request) => {
    const path = new URL(request.url).pathname;
    if (path === "/api/v1/auth/me") return json({ id: 1, username: "ops", role });
    if (path === "/api/v1/products") return json({ items: [PRODUCT], next_cursor: null });
    if (path === "/api/v1/orders" && request.method === "POST") return order(request);
    return apiError(404, "NotFound", `nothing at ${path}`);
  });
}

function renderForm() {
  renderAt(
    <Routes>
      <Route path="/orders/new" element={<NewOrderPage />} />
      <Route path="/orders/:orderId" element={<p>order page</p>} />
    </Routes>,
    { path: "/orders/new" },
  );
}

async function fillIn(hostname = "vps9.example.com") {
  await userEvent.type(await screen.findByRole("textbox", { name: "Customer e-mail" }), "ada@example.com");
  await userEvent.type(screen.getByRole("textbox", { name: "Customer name" }), "Ada Lovelace");
  await userEvent.type(screen.getByRole("textbox", { name: "Hostname" }), hostname);
}

function refusal(status: number, code: string, message: string, field: string): Response {
  return json({ error: { code, message, details: { field } } }, status);
}

function validation(path: string, message: string): Response {
  return json(
    { error: { code: "ValidationError", message: `invalid request: ${path}: ${message}`, details: { problems: [{ path, message }] } } },
    422,
  );
}

describe("the new order form", () => {
  it("posts the customer, product and hostname and opens the new order", async () => {
    const calls = serve(() =>
      json({ order: { id: 77, hostname: "vps9.example.com", state: "awaiting_payment", product: "vps-2g" }, invoice: {} }, 201),
    );
    renderForm();
    await fillIn();
    // The only product is chosen already.
    expect(screen.getByRole("combobox", { name: "Product" })).toHaveValue("VPS 2 GB (vps-2g) · 12.00 EUR");
    await userEvent.click(screen.getByRole("button", { name: "Place order" }));
    expect(await screen.findByText("order page")).toBeInTheDocument();
    const posted = calls.find((c) => c.method === "POST");
    expect(await posted?.json()).toEqual({
      customer: { email: "ada@example.com", name: "Ada Lovelace" },
      product: "vps-2g",
      hostname: "vps9.example.com",
    });
  });

  it("shows a hostname already taken on the hostname field", async () => {
    serve(() => refusal(409, "Conflict", "hostname vps9.example.com is already used by order 3", "hostname"));
    renderForm();
    await fillIn();
    await userEvent.click(screen.getByRole("button", { name: "Place order" }));
    const hostname = screen.getByRole("textbox", { name: "Hostname" });
    await vi.waitFor(() => expect(hostname).toHaveAttribute("aria-invalid", "true"));
    expect(screen.getByText("hostname vps9.example.com is already used by order 3")).toBeInTheDocument();
    expect(screen.queryByText("order page")).toBeNull();
  });

  it("shows an unknown product on the product field", async () => {
    serve(() => refusal(404, "NotFound", "product vps-2g does not exist", "product"));
    renderForm();
    await fillIn();
    await userEvent.click(screen.getByRole("button", { name: "Place order" }));
    expect(await screen.findByText("product vps-2g does not exist")).toBeInTheDocument();
    expect(screen.getByRole("combobox", { name: "Product" })).toHaveAttribute("aria-invalid", "true");
  });

  it("puts each field the API refuses under that field", async () => {
    serve(() => validation("body.hostname", "String should have at least 3 characters"));
    renderForm();
    await fillIn("v");
    await userEvent.click(screen.getByRole("button", { name: "Place order" }));
    expect(await screen.findByText("String should have at least 3 characters")).toBeInTheDocument();
    expect(screen.getByRole("textbox", { name: "Hostname" })).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByRole("textbox", { name: "Customer e-mail" })).not.toHaveAttribute("aria-invalid", "true");
  });

  it("shows a refusal that names no field above the button", async () => {
    serve(() => apiError(503, "DatabaseUnavailable", "the database is away"));
    renderForm();
    await fillIn();
    await userEvent.click(screen.getByRole("button", { name: "Place order" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("the database is away");
    expect(screen.getByRole("textbox", { name: "Hostname" })).not.toHaveAttribute("aria-invalid", "true");
  });

  it("lets a viewer see the form but not place an order", async () => {
    serve(() => apiError(403, "Forbidden", "needs operator"), "viewer");
    renderForm();
    expect(await screen.findByText("Placing an order needs the operator role.")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Place order" })).toBeDisabled();
  });
});
