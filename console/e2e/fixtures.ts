/** What the journeys share: the running demo's URLs and login, the panel's fault knobs. */
import { type APIRequestContext, type Page, expect, test as base } from "@playwright/test";
import type { Ready } from "./global-setup";

export const demo = (): Ready => JSON.parse(process.env.FLUXBILLING_E2E ?? "{}") as Ready;

export const test = base.extend({
  baseURL: async ({}, use) => {
    await use(demo().console_url);
  },
});
export { expect };

/** Set the SolusVM 2 simulator's fault knobs (`POST /_sim/faults`). */
export async function panelFaults(request: APIRequestContext, knobs: object): Promise<void> {
  const answer = await request.post(`${demo().simulators_url}/solusvm2/_sim/faults`, { data: knobs });
  expect(answer.ok()).toBeTruthy();
}

/** A customer places and pays one more order; its id. */
export async function placePaidOrder(request: APIRequestContext): Promise<number> {
  const answer = await request.post(`${demo().simulators_url}/_demo/orders`);
  expect(answer.status()).toBe(201);
  return ((await answer.json()) as { order_id: number }).order_id;
}

/** Save a screenshot of the page as a test artifact (console/e2e/artifacts/). */
export async function snapshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `e2e/artifacts/${name}.png`, fullPage: false });
}

/** Log in through the login page. */
export async function logIn(page: Page, path = "/orders"): Promise<void> {
  const { username, password } = demo();
  await page.goto(path);
  await page.getByRole("textbox", { name: "Username" }).fill(username ?? "");
  await page.getByRole("textbox", { name: "Password" }).fill(password ?? "");
  await page.getByRole("button", { name: "Log in" }).click();
}
