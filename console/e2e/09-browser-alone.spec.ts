/**
 * Journey: a custom panel, from nothing to an active order, in the browser alone. The operator
 * creates a connection to a panel (the demo's SolusVM 2 simulator, spoken to as a plain `http`
 * API with its own bearer token), draws a plugin that creates a server there and keeps its id,
 * tests the provision flow against that connection in the builder, offers a product on it,
 * places an order with the New order form, takes the payment at the gateway's checkout page
 * (the demo's Stripe simulator, which signs and sends the webhook back), and watches the order
 * go active on its page.
 */
import type { Page } from "@playwright/test";
import { choose, createHost, demo, expect, logIn, snapshot, test } from "./fixtures";

test.use({ actionTimeout: 30_000 });

const CONNECTION = "journey-panel";
const PLUGIN = "journey-vps-panel";
const PRODUCT = "journey-vps";
const HOSTNAME = "journey-vps.example.com";
// The SolusVM 2 simulator's demo token (simulators/…/demo.py), not a real credential.
const SIM_TOKEN = "demo-solusvm2-token";
// What the drawn flow sends: the simulator's plan 1, location 1 and Ubuntu 22.04 (version 11).
const CREATE_BODY = {
  name: "{{order.hostname}}",
  plan: 1,
  location: 1,
  os: 11,
  primary_ip: "{{allocation.address ?? null}}",
};

test("a custom panel, from its connection to an active order", async ({ page }) => {
  test.setTimeout(180_000);
  const simulators = demo().simulators_url.replace(/\/$/, "");

  // 1. The connection: a plain HTTP API whose settings say how it authenticates.
  await logIn(page, "/connections");
  await page.getByRole("link", { name: "New connection" }).click();
  const form = page.getByRole("form", { name: "Connection" });
  await form.getByRole("textbox", { name: "Name" }).fill(CONNECTION);
  await form.getByRole("combobox", { name: "Type" }).click();
  await page.getByRole("option", { name: /^Any HTTP API/ }).click();
  await form.getByRole("combobox", { name: "Purpose" }).click();
  await page.getByRole("option", { name: "test", exact: true }).click();
  await form.getByRole("textbox", { name: "Base URL" }).fill(`${simulators}/solusvm2/api/v1`);
  await form.getByRole("textbox", { name: "Settings" }).fill('{"auth": {"scheme": "bearer", "secret": "api_token"}}');
  await form.getByRole("textbox", { name: "Secret: api_token" }).fill(SIM_TOKEN);
  const networks = form.getByRole("combobox", { name: "Allowed private networks" });
  await networks.fill("127.0.0.0/8");
  await networks.press("Enter");
  await form.getByRole("button", { name: "Create connection" }).click();
  await expect(page).toHaveURL(new RegExp(`/connections/${CONNECTION}$`));
  await expect(page.getByRole("heading", { name: `Connection ${CONNECTION}` })).toBeVisible();
  await expect(page.getByRole("textbox", { name: "Secret: api_token" })).toHaveValue("");

  // 2. The plugin: trigger → POST servers → keep the panel's id as the service's external id.
  await page.getByRole("link", { name: "Plugin builder" }).click();
  await page.getByRole("tab", { name: "Plugin" }).click();
  const slug = page.getByRole("textbox", { name: "slug" });
  await slug.fill(PLUGIN);
  await slug.press("Tab");
  await page.getByRole("tab", { name: "provision" }).click();
  const properties = page.getByRole("region", { name: "Properties" });

  await page.getByRole("button", { name: "Add http node" }).click();
  await properties.getByRole("combobox", { name: "method" }).click();
  await page.getByRole("option", { name: "POST", exact: true }).click();
  const path = properties.getByRole("textbox", { name: "path" });
  await path.fill("servers");
  await path.press("Tab");
  const body = properties.getByRole("textbox", { name: "body" });
  await body.fill(JSON.stringify(CREATE_BODY));
  await body.press("Tab");

  await page.getByRole("button", { name: "Add set_service_data node" }).click();
  const data = properties.getByRole("textbox", { name: "data" });
  await data.fill('{"external_id": "{{http.data.id}}", "ip": "{{http.data.ips.ipv4.0.ip}}"}');
  await data.press("Tab");
  await expect(page.getByLabel("Validation")).toHaveText(/^valid/);

  await page.getByRole("button", { name: "Save as new version" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved as version 1" })).toBeVisible();

  // 3. Test the provision flow against the panel (a test connection), with typed inputs.
  await page.getByRole("button", { name: "Test", exact: true }).click();
  const tester = page.getByRole("region", { name: "Test the flow" });
  await tester.getByRole("combobox", { name: "Connection" }).click();
  await page.getByRole("option", { name: `${CONNECTION} (test)` }).click();
  await tester
    .getByRole("textbox", { name: "Inputs (the flow context)" })
    .fill(JSON.stringify({ order: { id: 1, hostname: "journey-test.example.com" }, options: {}, service: {} }));
  await tester.getByRole("button", { name: "Run test" }).click();
  await expect(tester.getByLabel("Test status")).toHaveText("done");
  await tester.getByRole("button", { name: "Next step ▶" }).click();
  const details = tester.getByRole("region", { name: "Step details" });
  await expect(details.getByRole("region", { name: "Upstream response" })).toContainText("HTTP 201");
  await expect(details).not.toContainText(SIM_TOKEN);
  const created = (await (await page.request.get(`${simulators}/solusvm2/_sim/state`)).json()) as {
    servers: { name: string }[];
  };
  expect(created.servers.map((s) => s.name)).toContain("journey-test.example.com");

  // 4. A product on the new plugin and connection (and a host on that panel).
  await createProduct(page);

  // 5. The order, placed by hand.
  await page.getByRole("link", { name: "Orders" }).click();
  await page.getByRole("link", { name: "New order" }).click();
  await expect(page).toHaveURL(/\/orders\/new$/);
  const order = page.getByRole("form", { name: "New order" });
  await order.getByRole("textbox", { name: "Customer e-mail" }).fill("grace@example.com");
  await order.getByRole("textbox", { name: "Customer name" }).fill("Grace Hopper");
  await order.getByRole("combobox", { name: "Product" }).click();
  await page.getByRole("option", { name: new RegExp(`\\(${PRODUCT}\\)`) }).click();
  await order.getByRole("textbox", { name: "Hostname" }).fill(HOSTNAME);
  await snapshot(page, "new-order");
  await order.getByRole("button", { name: "Place order" }).click();
  await expect(page.getByRole("heading", { name: new RegExp(`Order \\d+ · ${HOSTNAME}`) })).toBeVisible();
  await expect(page.getByLabel("Order state")).toHaveText("awaiting payment");
  const orderUrl = page.url();
  const orderId = orderUrl.split("/").pop()!;

  // The same hostname again is refused, on the hostname field.
  await page.getByRole("link", { name: "Orders" }).click();
  await page.getByRole("link", { name: "New order" }).click();
  await order.getByRole("textbox", { name: "Customer e-mail" }).fill("grace@example.com");
  await order.getByRole("textbox", { name: "Customer name" }).fill("Grace Hopper");
  await order.getByRole("combobox", { name: "Product" }).click();
  await page.getByRole("option", { name: new RegExp(`\\(${PRODUCT}\\)`) }).click();
  await order.getByRole("textbox", { name: "Hostname" }).fill(HOSTNAME);
  await order.getByRole("button", { name: "Place order" }).click();
  await expect(order.getByRole("textbox", { name: "Hostname" })).toHaveAttribute("aria-invalid", "true");
  await expect(order).toContainText(`hostname ${HOSTNAME} is already used`);
  await page.getByRole("link", { name: "Orders" }).click();
  await page.getByRole("link", { name: `Order ${orderId}`, exact: true }).click();

  // 6. Payment: a checkout at the gateway, its link for the customer, paid on its page.
  const payment = page.getByRole("region", { name: "Take payment" });
  await expect(payment.getByRole("combobox", { name: "Gateway" })).toHaveValue(/Stripe/);
  await payment.getByRole("button", { name: "Take payment" }).click();
  const link = payment.getByRole("textbox", { name: "Payment link" });
  await expect(link).toHaveValue(/^http/);
  await expect(payment.getByRole("button", { name: "Take payment" })).not.toHaveAttribute("data-loading");
  await snapshot(page, "checkout");
  // Not paid yet: asking the gateway now says so, and the invoice stays open.
  await payment.getByRole("button", { name: "Check payment now" }).click();
  await expect(payment.getByLabel("Payment check")).toBeVisible();
  await expect(page.getByLabel("Order state")).toHaveText("awaiting payment");
  const popup = page.waitForEvent("popup");
  await payment.getByRole("link", { name: "Open checkout" }).click();
  const checkout = await popup;
  await checkout.getByRole("button", { name: "pay", exact: true }).click();
  // The gateway sends the customer back to the order's page.
  await expect(checkout).toHaveURL(orderUrl);
  await checkout.close();

  // 7. The signed webhook pays the invoice; the run provisions through the drawn flow.
  await expect(page.getByLabel("Order state")).toHaveText("active", { timeout: 90_000 });
  await expect(payment).toHaveCount(0);
  const service = page.getByRole("region", { name: "Service" });
  await expect(service).toContainText(PLUGIN);
  const state = (await (await page.request.get(`${simulators}/solusvm2/_sim/state`)).json()) as {
    servers: { id: number; name: string }[];
  };
  const server = state.servers.find((s) => s.name === HOSTNAME);
  expect(server).toBeDefined();
  await expect(service.getByRole("row", { name: /Panel id/ })).toContainText(String(server!.id));
  const invoice = page.getByRole("region", { name: "Invoice" });
  await expect(invoice).toContainText("via stripe");
  await expect(invoice).toContainText("checkout.session.completed");
});

/** On the catalogue screens: a host on the new connection, and a product on the new plugin. */
async function createProduct(page: Page): Promise<void> {
  await page.getByRole("link", { name: "Catalogue" }).click();
  await page.getByRole("tab", { name: "Hosts" }).click();
  await createHost(page, {
    name: "journey-host-1",
    location: /^ams1/,
    ramMb: 16384,
    vcpus: 8,
    diskGb: 400,
    subnet: "192.0.2.0/24",
    connection: new RegExp(`^${CONNECTION}`),
  });

  await page.getByRole("tab", { name: "Products" }).click();
  await page.getByRole("link", { name: "New product" }).click();
  await page.getByRole("textbox", { name: "Slug" }).fill(PRODUCT);
  await page.getByRole("textbox", { name: "Name" }).fill("Journey VPS");
  await choose(page, "Location", /^ams1/);
  await choose(page, "Connection", new RegExp(`^${CONNECTION}`));
  await choose(page, "Plugin", new RegExp(`^${PLUGIN}`));
  await choose(page, "Image", /^debian-12/);
  await page.getByRole("textbox", { name: "RAM (MB)" }).fill("1024");
  await page.getByRole("textbox", { name: "Disk (GB)" }).fill("20");
  await page.getByRole("textbox", { name: "Price (minor units)" }).fill("700");
  await page.getByRole("button", { name: "Create product" }).click();
  await expect(page.getByRole("heading", { name: `Product ${PRODUCT}` })).toBeVisible();
}
