/**
 * Journey: the panel breaks, an order fails; the operator reads the upstream's answer on the
 * order page, the panel is mended, and one click retries the order to active.
 */
import { expect, logIn, panelFaults, placePaidOrder, snapshot, test } from "./fixtures";

test("a failed order is understood and retried to active from its page", async ({ page, request }) => {
  await panelFaults(request, { fail_always: 422 });
  const id = await placePaidOrder(request);
  try {
    await logIn(page, `/orders/${id}`);
    await expect(page).toHaveURL(new RegExp(`/orders/${id}$`));
    const error = page.getByRole("region", { name: "Last error" });
    await expect(error).toBeVisible({ timeout: 60_000 });
    await expect(error).toContainText("422");
    await expect(error.getByLabel("Suggested action")).toBeVisible();
    const response = page.getByRole("region", { name: "Upstream response" }).last();
    await expect(response).toContainText("HTTP 422");
    await snapshot(page, "order-failed");
  } finally {
    await panelFaults(request, { clear: true });
  }
  await page.getByRole("button", { name: "Retry" }).click();
  await expect(page.getByLabel("Order state")).toHaveText("active", { timeout: 60_000 });
  await expect(page.getByRole("region", { name: "Last error" })).toHaveCount(0);
});
