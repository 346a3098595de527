/**
 * Journey: an operator draws a two-node plugin in the builder (a trigger and an HTTP request),
 * reads the validation error it shows, fixes it, saves it as version 1, tests its provision flow
 * against a simulator connection marked `test` and steps through what each node did; then saves a
 * change and reads the difference between the two versions.
 */
import { demo, expect, logIn, snapshot, test } from "./fixtures";

const CONNECTION = "sim-test";
// The SolusVM 2 simulator's demo token (simulators/…/demo.py), not a real credential.
const SIM_TOKEN = "demo-solusvm2-token";

test.beforeAll(async ({ request }) => {
  const { simulators_url, api_token } = demo();
  const answer = await request.post(`${demo().console_url.replace(/\/$/, "")}/api/v1/connections`, {
    headers: { Authorization: `Bearer ${api_token}` },
    data: {
      name: CONNECTION,
      type: "http",
      base_url: `${simulators_url.replace(/\/$/, "")}/solusvm2/api/v1`,
      settings: { auth: { scheme: "bearer", secret: "api_token" } },
      secrets: { api_token: SIM_TOKEN },
      allowed_networks: ["127.0.0.0/8"],
      purpose: "test",
    },
  });
  expect([201, 409]).toContain(answer.status());
});

test("draw, fix, save, test and diff a plugin in the builder", async ({ page }) => {
  await logIn(page, "/plugins/new/edit");
  await expect(page.getByRole("tab", { name: "provision" })).toBeVisible();

  // The header: a slug of its own.
  await page.getByRole("tab", { name: "Plugin" }).click();
  const slug = page.getByRole("textbox", { name: "slug" });
  await slug.fill("e2e-panel");
  await slug.press("Tab");

  // Draw: an http node after the trigger, its path with a template left open.
  await page.getByRole("tab", { name: "provision" }).click();
  await page.getByRole("button", { name: "Add http node" }).click();
  const properties = page.getByRole("region", { name: "Properties" });
  const path = properties.getByRole("textbox", { name: "path" });
  await path.fill("servers?name={{order.hostname");
  await path.press("Tab");

  // The API's problem lands on the node and the field it names.
  const node = page.getByRole("group", { name: "Node http" });
  await expect(node.getByLabel(/problems?$/)).toBeVisible();
  await expect(page.getByLabel("Validation")).toContainText("problem");
  await expect(path).toHaveAttribute("aria-invalid", "true");
  await snapshot(page, "builder-invalid");

  // Fix it, and draw the wire from the trigger's `ok` port to the request by hand.
  await path.fill("servers");
  await path.press("Tab");
  await expect(page.getByLabel("Validation")).toHaveText(/^valid/);
  await expect(node.getByLabel(/problems?$/)).toHaveCount(0);
  await expect(page.getByLabel("wire start ok to http (list order)")).toHaveCount(1);
  await page.getByLabel("port ok of start").dragTo(page.getByLabel("input of http"));
  await expect(page.getByLabel("wire start ok to http", { exact: true })).toHaveCount(1);
  await page.getByRole("group", { name: "Node start" }).click();
  await expect(properties.getByRole("combobox", { name: "port ok →" })).toHaveValue("http");
  await expect(page.getByLabel("Validation")).toHaveText(/^valid/);

  await page.getByRole("button", { name: "Save as new version" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved as version 1" })).toBeVisible();
  await expect(page).toHaveURL(/\/plugins\/e2e-panel\/edit\?version=1$/);

  // Test the provision flow against the simulator (a `test` connection), step by step.
  await page.getByRole("button", { name: "Test", exact: true }).click();
  const tester = page.getByRole("region", { name: "Test the flow" });
  await tester.getByRole("combobox", { name: "Connection" }).click();
  await page.getByRole("option", { name: `${CONNECTION} (test)` }).click();
  await tester.getByRole("button", { name: "Run test" }).click();
  await expect(tester.getByLabel("Test status")).toHaveText("done");
  const details = tester.getByRole("region", { name: "Step details" });
  await expect(details).toContainText("start");
  await expect(page.getByRole("group", { name: "Node start" })).toHaveAttribute("data-trace", "current");
  await tester.getByRole("button", { name: "Next step ▶" }).click();
  await expect(details).toContainText("http");
  await expect(page.getByRole("group", { name: "Node http" })).toHaveAttribute("data-trace", "current");
  await expect(details.getByRole("region", { name: "Upstream response" })).toContainText("HTTP 200");
  await expect(details).not.toContainText(SIM_TOKEN);
  await snapshot(page, "builder-test");

  // A host on the test connection's panel, a product on the new plugin (the demo's plan,
  // location, subnet and image), and an order of it, paid, provisioned through the drawn flow.
  const { console_url, simulators_url, api_token } = demo();
  const apiUrl = console_url.replace(/\/$/, "");
  const auth = { Authorization: `Bearer ${api_token}` };
  const products = await page.request.get(`${apiUrl}/api/v1/products`, { headers: auth });
  expect(products.ok()).toBeTruthy();
  const listed = (await products.json()) as { items: Record<string, unknown>[] };
  const base = listed.items[0]!;
  const hosts = (await (await page.request.get(`${apiUrl}/api/v1/hosts`, { headers: auth })).json()) as {
    items: Record<string, unknown>[];
  };
  const host = hosts.items[0]!;
  const made = await page.request.post(`${apiUrl}/api/v1/hosts`, {
    headers: auth,
    data: {
      name: "e2e-host-1",
      location: host.location,
      ram_mb: host.ram_mb,
      vcpus: host.vcpus,
      disk_gb: host.disk_gb,
      subnet: host.subnet,
      connection: CONNECTION,
    },
  });
  expect(made.status(), await made.text()).toBe(201);
  const product = await page.request.post(`${apiUrl}/api/v1/products`, {
    headers: auth,
    data: {
      slug: "e2e-vps",
      name: "E2E VPS",
      service_type: "vps",
      location: base.location,
      connection: CONNECTION,
      plugin: "e2e-panel",
      image: base.image,
      options: {},
      ram_mb: base.ram_mb,
      vcpus: base.vcpus,
      disk_gb: base.disk_gb,
      price_minor: 500,
      currency: base.currency,
    },
  });
  expect(product.status(), await product.text()).toBe(201);
  const placed = await page.request.post(`${simulators_url.replace(/\/$/, "")}/_demo/orders`, {
    data: { product: "e2e-vps" },
  });
  expect(placed.status()).toBe(201);
  const { order_id } = (await placed.json()) as { order_id: number };
  await page.goto(`/orders/${order_id}`);
  await expect(page.getByLabel("Order state")).toHaveText("active", { timeout: 60_000 });
  await snapshot(page, "builder-order-active");
  await page.goto("/plugins/e2e-panel/edit?version=1");
  await expect(page.getByRole("group", { name: "Node http" })).toBeVisible();

  // A second version, and what changed.
  await page.getByRole("group", { name: "Node http" }).click();
  const label = properties.getByRole("textbox", { name: "label" });
  await label.fill("list the servers");
  await label.press("Tab");
  await page.getByRole("button", { name: "Save as new version" }).click();
  await expect(page.getByRole("status").filter({ hasText: "Saved as version 2" })).toBeVisible();
  await page.getByRole("link", { name: "Versions" }).click();
  const changes = page.getByRole("table", { name: "Changes" });
  await expect(changes).toContainText("flows.provision.nodes[1].label");
  await expect(changes).toContainText("list the servers");
  await snapshot(page, "builder-versions");

  // A shipped plugin, laid out by ELK when opened: its provision flow with every branch.
  await page.goto("/plugins/solusvm2/edit");
  await expect(page.getByRole("group", { name: "Node start" })).toBeVisible();
  await expect(page.getByLabel("Validation")).toHaveText(/^valid/);
  await page.getByRole("group", { name: "Node create" }).click();
  await expect(properties.getByRole("combobox", { name: "method" })).toHaveValue("POST");
  await snapshot(page, "builder-solusvm2");
});
