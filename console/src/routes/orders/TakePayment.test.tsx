import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { apiError, fakeFetch, json } from "../../test/fetch";
import { renderAt } from "../../test/render";
import { TakePayment } from "./TakePayment";

afterEach(() => vi.unstubAllGlobals());
// jsdom does not scroll: Mantine's combobox scrolls the chosen option into view.
beforeAll(() => {
  Element.prototype.scrollIntoView = () => {};
});

const INVOICE = {
  id: 5,
  order_id: 42,
  amount_minor: 1200,
  currency: "EUR",
  status: "unpaid" as const,
  gateway: null,
  gateway_ref: null,
  paid_at: null,
  created_at: "2026-12-07T20:00:00Z",
};
const GATEWAYS = [
  { name: "mollie", display_name: "Mollie", livemode: false },
  { name: "stripe", display_name: "Stripe", livemode: true },
];
const CHECKOUT = {
  invoice_id: 5,
  gateway: "stripe",
  gateway_ref: "cs_test_1",
  redirect_url: "https://checkout.example/c/pay/cs_test_1",
  attempt: 1,
};

function serve(role = "operator", gateways: object[] = GATEWAYS) {
  return fakeFetch((request) => {
    const path = new URL(request.url).pathname;
    if (path === "/api/v1/auth/me") return json({ id: 1, username: "ops", role });
    if (path === "/api/v1/gateways") return json(gateways);
    if (path === "/api/v1/invoices/5/checkout") return json(CHECKOUT, 201);
    if (path === "/api/v1/invoices/5/sync") {
      return json({ invoice_id: 5, results: [{ outcome: "processed", detail: "paid" }] });
    }
    return apiError(404, "NotFound", `nothing at ${path}`);
  });
}

describe("taking payment on an order's page", () => {
  it("starts a checkout at the chosen gateway, back to the order's page, and shows its link", async () => {
    const calls = serve();
    renderAt(<TakePayment orderId={42} invoice={INVOICE} />);
    await userEvent.click(await screen.findByRole("combobox", { name: "Gateway" }));
    await userEvent.click(await screen.findByRole("option", { name: "Stripe", hidden: true }));
    await userEvent.click(screen.getByRole("button", { name: "Take payment" }));

    expect(await screen.findByRole("textbox", { name: "Payment link" })).toHaveValue(CHECKOUT.redirect_url);
    expect(screen.getByRole("link", { name: "Open checkout" })).toHaveAttribute("href", CHECKOUT.redirect_url);
    expect(screen.getByRole("button", { name: "Copy link" })).toBeInTheDocument();
    const posted = calls.find((c) => c.url.endsWith("/api/v1/invoices/5/checkout"));
    expect(await posted?.json()).toEqual({
      gateway: "stripe",
      success_url: `${window.location.origin}/orders/42`,
      cancel_url: `${window.location.origin}/orders/42?payment=canceled`,
    });
  });

  it("says so when the customer came back from the checkout without paying", async () => {
    serve();
    renderAt(<TakePayment orderId={42} invoice={INVOICE} />, { path: "/orders/42?payment=canceled" });
    expect(await screen.findByText(/left the checkout without paying/)).toBeInTheDocument();
  });

  it("names a gateway in test mode", async () => {
    serve();
    renderAt(<TakePayment orderId={42} invoice={INVOICE} />);
    expect(await screen.findByRole("combobox", { name: "Gateway" })).toHaveValue("Mollie (test mode)");
  });

  it("asks the gateways now and says what they answered", async () => {
    const calls = serve();
    renderAt(<TakePayment orderId={42} invoice={INVOICE} />);
    await userEvent.click(await screen.findByRole("button", { name: "Check payment now" }));
    expect(await screen.findByLabelText("Payment check")).toHaveTextContent("processed: paid");
    expect(calls.some((c) => c.method === "POST" && c.url.endsWith("/api/v1/invoices/5/sync"))).toBe(true);
  });

  it("shows the API's refusal of a checkout", async () => {
    fakeFetch((request) => {
      const path = new URL(request.url).pathname;
      if (path === "/api/v1/auth/me") return json({ id: 1, username: "ops", role: "operator" });
      if (path === "/api/v1/gateways") return json(GATEWAYS);
      return apiError(409, "Conflict", "invoice 5 is paid: nothing to pay");
    });
    renderAt(<TakePayment orderId={42} invoice={INVOICE} />);
    await userEvent.click(await screen.findByRole("button", { name: "Take payment" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("invoice 5 is paid: nothing to pay");
    expect(screen.queryByRole("textbox", { name: "Payment link" })).toBeNull();
  });

  it("says when no gateway is configured", async () => {
    serve("operator", []);
    renderAt(<TakePayment orderId={42} invoice={INVOICE} />);
    expect(await screen.findByText("No payment gateway is configured on this installation.")).toBeInTheDocument();
  });

  it("shows nothing once the invoice is paid, and no buttons to a viewer", async () => {
    serve("viewer");
    const { unmount } = renderAt(<TakePayment orderId={42} invoice={{ ...INVOICE, status: "paid" }} />);
    expect(screen.queryByRole("region", { name: "Take payment" })).toBeNull();
    unmount();
    renderAt(<TakePayment orderId={42} invoice={INVOICE} />);
    expect(await screen.findByText("Taking a payment needs the operator role.")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Take payment" })).toBeNull();
  });
});
