/**
 * Journey: the operator logs in and lands on the dashboard; the panel breaks and an order fails,
 * and the dashboard's counts change live, without a reload; from the failed count they reach the
 * run and its order, retry it, and find their retry in the audit log.
 */
import { expect, demo, logIn, panelFaults, placePaidOrder, snapshot, test } from "./fixtures";

test.setTimeout(180_000);

test("the dashboard follows a failing order live; the audit log shows the retry", async ({ page, request }) => {
  await logIn(page, "/login");
  await expect(page).toHaveURL(/\/dashboard$/);
  await expect(page.getByRole("heading", { name: "Dashboard" })).toBeVisible();
  await expect(page.getByRole("link", { name: /^[1-9]\d* active orders$/ })).toBeVisible({ timeout: 60_000 });
  const failedOrders = page.getByRole("link", { name: /^\d+ failed orders$/ });
  const before = Number((await failedOrders.textContent()) ?? "NaN");
  expect(before).toBeGreaterThanOrEqual(0);
  await snapshot(page, "dashboard");

  // Anything the page remembers is gone after a reload: this says the page was not reloaded.
  await page.evaluate(() => ((window as unknown as { notReloaded: boolean }).notReloaded = true));
  await panelFaults(request, { fail_always: 422 });
  let id: number;
  try {
    id = await placePaidOrder(request);
    await expect(failedOrders).toHaveText(String(before + 1), { timeout: 60_000 });
  } finally {
    await panelFaults(request, { clear: true });
  }
  expect(await page.evaluate(() => (window as unknown as { notReloaded?: boolean }).notReloaded)).toBe(true);
  const failedRuns = page.getByRole("link", { name: /^\d+ failed at / });
  await expect(failedRuns.first()).toBeVisible();
  await snapshot(page, "dashboard-failed");

  await failedRuns.first().click();
  await expect(page).toHaveURL(/\/runs\?kind=provision&phase=\w+&state=failed$/);
  await page.getByRole("link", { name: `Order ${id}`, exact: true }).click();
  await expect(page).toHaveURL(new RegExp(`/orders/${id}$`));
  await page.getByRole("button", { name: "Retry" }).click();
  await expect(page.getByLabel("Order state")).toHaveText("active", { timeout: 60_000 });

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Audit log" }).click();
  await expect(page).toHaveURL(/\/audit$/);
  const username = demo().username ?? "";
  await page.getByRole("textbox", { name: "Actor" }).fill(username);
  await page.getByRole("textbox", { name: "Actor" }).press("Enter");
  await expect(page).toHaveURL(new RegExp(`/audit\\?actor=${username}$`));
  const log = page.getByRole("table", { name: "Audit log" });
  const retry = log.getByRole("row").filter({ hasText: "run.retry" }).first();
  await expect(retry).toContainText(username);
  await expect(retry.getByRole("link", { name: /^run \d+$/ })).toHaveAttribute("href", `/runs?order_id=${id}`);
  await snapshot(page, "audit");
});
