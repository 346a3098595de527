/**
 * Journey: an operator logs in and watches the demo's paid order become active, live (the demo
 * places it once someone is signed in).
 */
import { expect, logIn, snapshot, test } from "./fixtures";

test("log in and watch the demo order go active", async ({ page }) => {
  await page.goto("/orders");
  await expect(page).toHaveURL(/\/login\?next=%2Forders/);
  await expect(page.getByRole("button", { name: "Log in" })).toBeVisible();
  await snapshot(page, "login");

  await logIn(page);
  await expect(page).toHaveURL(/\/orders$/);
  await expect(page.getByLabel("Role")).toHaveText("admin");
  const order = page.getByRole("link", { name: "Order 1", exact: true });
  await expect(order).toBeVisible();
  await snapshot(page, "orders");

  await order.click();
  await expect(page).toHaveURL(/\/orders\/1$/);
  await expect(page.getByRole("heading", { name: /Order 1 ·/ })).toBeVisible();
  await expect(page.getByLabel("Order state")).toHaveText("active", { timeout: 60_000 });
  const timeline = page.getByLabel("Phase timeline");
  for (const phase of ["billing", "allocation", "provision", "os_install", "network", "handoff"]) {
    await expect(timeline.getByText(phase, { exact: true })).toBeVisible();
  }
  await expect(page.getByRole("region", { name: "Invoice" })).toContainText("paid");
  await expect(page.getByRole("region", { name: "Activity" })).toContainText("service_active");
  await snapshot(page, "order-active");
});
