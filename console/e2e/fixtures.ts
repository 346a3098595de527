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

/** Pick `option` in the select labelled `label` (Mantine's combobox). */
export async function choose(page: Page, label: string, option: string | RegExp): Promise<void> {
  await page.getByRole("combobox", { name: label, exact: true }).click();
  await page.getByRole("option", { name: option }).click();
}

export interface NewHost {
  name: string;
  location: RegExp;
  ramMb: number;
  vcpus: number;
  diskGb: number;
  subnet: string;
  connection: RegExp;
}

/** Create a host on the catalogue's New host form (from the Hosts tab); its page follows. */
export async function createHost(page: Page, host: NewHost): Promise<void> {
  await page.getByRole("link", { name: "New host" }).click();
  await page.getByRole("textbox", { name: "Name" }).fill(host.name);
  await choose(page, "Location", host.location);
  await page.getByRole("textbox", { name: "RAM total (MB)" }).fill(String(host.ramMb));
  await page.getByRole("textbox", { name: "vCPUs total" }).fill(String(host.vcpus));
  await page.getByRole("textbox", { name: "Disk total (GB)" }).fill(String(host.diskGb));
  await choose(page, "Subnet", host.subnet);
  await choose(page, "Connection", host.connection);
  await page.getByRole("button", { name: "Create host" }).click();
  await expect(page.getByRole("heading", { name: `Host ${host.name}` })).toBeVisible();
}
