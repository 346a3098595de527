/**
 * Journey: an operator tests the shipped SolusVM 2 plugin's provision flow in the builder against
 * the simulator (a connection marked `test`). The flow waits for the server to start (a poll
 * node): the test answers *pending*, and with *continue by itself* it resumes on its own until
 * it is done. Then the same test with its inputs taken from a past run (the demo order's):
 * the flow finds the server that order made and adopts it (lookup before create).
 */
import type { Page } from "@playwright/test";
import { demo, expect, logIn, snapshot, test } from "./fixtures";

const CONNECTION = "sv2-test";
// The SolusVM 2 simulator's demo token (simulators/…/demo.py), not a real credential.
const SIM_TOKEN = "demo-solusvm2-token";

const api = () => demo().console_url.replace(/\/$/, "");
const auth = () => ({ Authorization: `Bearer ${demo().api_token}` });

/** The run of the demo order (order 1, placed once someone signs in), once it is active. */
async function demoRun(page: Page): Promise<{ runId: number; inputs: Record<string, unknown> }> {
  const order = async () => {
    const answer = await page.request.get(`${api()}/api/v1/orders/1`, { headers: auth() });
    return answer.ok() ? ((await answer.json()) as { state: string; run: { id: number } }) : undefined;
  };
  await expect.poll(async () => (await order())?.state, { timeout: 90_000 }).toBe("active");
  const { run } = (await order())!;
  const context = await page.request.get(`${api()}/api/v1/runs/${run.id}/flow-context`, { headers: auth() });
  expect(context.ok()).toBeTruthy();
  return { runId: run.id, inputs: ((await context.json()) as { inputs: Record<string, unknown> }).inputs };
}

/** Sign in on the shipped SolusVM 2 plugin's builder; the demo order's run; the test panel. */
async function openTester(page: Page) {
  await logIn(page, "/plugins/solusvm2/edit");
  const past = await demoRun(page);
  await expect(page.getByRole("group", { name: "Node start" })).toBeVisible();
  await page.getByRole("button", { name: "Test", exact: true }).click();
  const tester = page.getByRole("region", { name: "Test the flow" });
  await expect(tester.getByRole("combobox", { name: "Verb" })).toHaveValue("provision");
  await tester.getByRole("combobox", { name: "Connection" }).click();
  await page.getByRole("option", { name: `${CONNECTION} (test)` }).click();
  return { tester, ...past };
}

test.beforeAll(async ({ request }) => {
  const shipped = await request.get(`${api()}/api/v1/connections/solusvm2`, { headers: auth() });
  expect(shipped.ok()).toBeTruthy();
  const { base_url } = (await shipped.json()) as { base_url: string };
  const answer = await request.post(`${api()}/api/v1/connections`, {
    headers: auth(),
    data: {
      name: CONNECTION,
      type: "solusvm2",
      base_url,
      secrets: { api_token: SIM_TOKEN },
      allowed_networks: ["127.0.0.0/8"],
      purpose: "test",
    },
  });
  expect([201, 409]).toContain(answer.status());
});

test.setTimeout(240_000);

test("a test that waits goes pending and continues by itself to the end", async ({ page }) => {
  const { tester, inputs } = await openTester(page);
  const typed = {
    ...inputs,
    order: { ...(inputs.order as object), hostname: "e2e-pending.example.com" },
    options: { ...(inputs.options as object), poll_interval: 1 },
  };
  await tester.getByRole("textbox", { name: "Inputs (the flow context)" }).fill(JSON.stringify(typed));
  await tester.getByRole("button", { name: "Run test" }).click();

  const status = tester.getByLabel("Test status");
  await expect(status).toHaveText("pending");
  const steps = tester.getByRole("list", { name: "Steps" });
  await expect(steps.getByRole("listitem")).toHaveText(["1. start → ok", "2. find → missing", "3. create → ok", "4. wait"]);
  await expect(tester.getByRole("button", { name: "Continue" })).toBeVisible();
  await snapshot(page, "builder-test-pending");

  await tester.getByRole("checkbox", { name: "continue by itself" }).check();
  await expect(status).toHaveText("done", { timeout: 60_000 });
  await expect(steps.getByRole("listitem").last()).toHaveText(/persist/);
  await expect(tester.getByRole("button", { name: "Continue" })).toHaveCount(0);
  await expect(tester).not.toContainText(SIM_TOKEN);
  await snapshot(page, "builder-test-continued");
});

test("a test takes its inputs from a past run: the demo order's", async ({ page }) => {
  const { tester, runId, inputs } = await openTester(page);
  await tester.getByText("From a past run").click();
  await tester.getByRole("textbox", { name: "Run id" }).fill(String(runId));
  await tester.getByRole("button", { name: "Run test" }).click();

  const status = tester.getByLabel("Test status");
  await expect(status).not.toHaveText("failed");
  const steps = tester.getByRole("list", { name: "Steps" });
  // The server that order made is found and adopted, not created twice.
  await expect(steps.getByRole("listitem").nth(1)).toHaveText("2. find → found");
  await expect(steps).not.toContainText("create");
  await tester.getByRole("button", { name: "Next step ▶" }).click();
  const details = tester.getByRole("region", { name: "Step details" });
  await expect(details).toContainText(String((inputs.order as { hostname: string }).hostname));
  if ((await status.textContent()) === "pending") {
    await tester.getByRole("checkbox", { name: "continue by itself" }).check();
  }
  await expect(status).toHaveText("done", { timeout: 60_000 });
  await snapshot(page, "builder-test-from-run");
});
