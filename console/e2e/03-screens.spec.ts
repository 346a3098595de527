/** Journey: an operator looks around: runs by state, deliveries, a connection's test, plugins. */
import { expect, logIn, snapshot, test } from "./fixtures";

test("runs, webhook deliveries, connections and plugins", async ({ page }) => {
  await logIn(page, "/runs?state=completed");
  const runs = page.getByRole("table", { name: "Runs" });
  await expect(runs.getByRole("link", { name: "Order 1", exact: true })).toBeVisible();
  await snapshot(page, "runs");

  await page.getByRole("link", { name: "Webhook deliveries" }).click();
  const deliveries = page.getByRole("table", { name: "Webhook deliveries" });
  await expect(deliveries).toContainText("checkout.session.completed");
  await expect(deliveries).toContainText("valid");
  await snapshot(page, "deliveries");

  await page.getByRole("link", { name: "Connections" }).click();
  await page.getByRole("link", { name: "solusvm2" }).click();
  await expect(page.getByRole("textbox", { name: "Secret: api_token" })).toHaveValue("");
  await page.getByRole("button", { name: "Test connection" }).click();
  const verdict = page.getByRole("region", { name: "Test result" });
  await expect(verdict).toContainText("reachable");
  await expect(verdict).toContainText("HTTP 200");
  await expect(verdict).not.toContainText("demo-solusvm2-token");
  await snapshot(page, "connection");

  await page.getByRole("link", { name: "Plugins" }).click();
  await page.getByRole("link", { name: "solusvm2" }).click();
  await expect(page.getByRole("table", { name: "Versions" })).toContainText("v1");
  await snapshot(page, "plugin");
});
