/**
 * Journey: an operator opens the demo order's service, reads its figures, suspends it (after
 * confirming, with a reason), sees it suspended live, and unsuspends it.
 */
import { expect, logIn, snapshot, test } from "./fixtures";

test("open the demo order's service, run stats, suspend and unsuspend it", async ({ page }) => {
  await logIn(page, "/orders/1");
  await expect(page.getByLabel("Order state")).toHaveText("active", { timeout: 60_000 });
  const link = page.getByRole("region", { name: "Service" }).getByRole("link", { name: /^Service \d+$/ });
  const name = (await link.textContent()) ?? "";
  const serviceId = name.replace("Service ", "");

  await page.getByRole("link", { name: "Services", exact: true }).click();
  await expect(page).toHaveURL(/\/services$/);
  const table = page.getByRole("table", { name: "Services" });
  await expect(table.getByRole("link", { name, exact: true })).toBeVisible();
  await snapshot(page, "services");

  await page.goto("/orders/1");
  await page.getByRole("region", { name: "Service" }).getByRole("link", { name, exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/services/${serviceId}$`));
  await expect(page.getByRole("heading", { name: new RegExp(`^Service ${serviceId} ·`) })).toBeVisible();
  await expect(page.getByLabel("Service state")).toHaveText("active");

  const actions = page.getByRole("region", { name: "Actions" });
  const latest = page.getByRole("region", { name: "Latest action" });
  await actions.getByRole("button", { name: "Stats" }).click();
  await expect(latest).toContainText("Latest action: stats");
  await expect(latest.getByLabel("Action state")).toHaveText("completed", { timeout: 30_000 });
  await expect(latest.getByLabel("Result of stats")).toContainText("cpu_load_average");

  await actions.getByRole("textbox", { name: /Reason/ }).fill("invoice overdue");
  await actions.getByRole("button", { name: "Suspend", exact: true }).click();
  const dialog = page.getByRole("dialog");
  await expect(dialog).toContainText("Reason: invoice overdue");
  await dialog.getByRole("button", { name: "Suspend", exact: true }).click();
  await expect(page.getByLabel("Service state")).toHaveText("suspended", { timeout: 30_000 });
  await expect(latest.getByLabel("Action state")).toHaveText("completed");
  const history = page.getByRole("table", { name: "Actions of the service" });
  await expect(history).toContainText("invoice overdue");
  await expect(actions.getByRole("button", { name: "Suspend", exact: true })).toHaveCount(0);
  await snapshot(page, "service");

  await actions.getByRole("button", { name: "Unsuspend" }).click();
  await expect(page.getByLabel("Service state")).toHaveText("active", { timeout: 30_000 });
  await expect(actions.getByRole("button", { name: "Unsuspend" })).toHaveCount(0);
  await expect(history.getByRole("row")).toHaveCount(4);
});
