/** Journey: an admin creates an operator, who signs in with the password shown once, sees no
 * Users entry, makes an API token, uses it, revokes it, and the token no longer works. */
import { expect, logIn, snapshot, test } from "./fixtures";

test("an admin creates an operator, who makes and revokes an API token", async ({ page, request }) => {
  await logIn(page, "/users");
  await expect(page.getByRole("table", { name: "Users" })).toBeVisible();
  await page.getByRole("link", { name: "New user" }).click();
  await page.getByRole("textbox", { name: "Username" }).fill("olive");
  await page.getByRole("combobox", { name: "Role" }).selectOption("operator");
  await page.getByRole("button", { name: "Create user" }).click();
  const shown = page.getByRole("region", { name: "Password of olive" });
  await expect(shown).toContainText("never again");
  const password = (await shown.getByLabel("Password of olive: value").textContent()) ?? "";
  expect(password.length).toBeGreaterThanOrEqual(12);
  await shown.getByRole("button", { name: "I have copied it" }).click();
  await expect(page.getByText(password)).toHaveCount(0);

  await page.getByRole("link", { name: "Users and tokens" }).click();
  const olive = page.getByRole("table", { name: "Users" }).getByRole("row").filter({ hasText: "olive" });
  await expect(olive).toContainText("operator");
  await expect(olive).toContainText("never");
  await snapshot(page, "users");

  await olive.getByRole("link", { name: "olive" }).click();
  await expect(page.getByRole("heading", { name: "User olive" })).toBeVisible();
  await expect(page.getByRole("button", { name: "Disable" })).toBeVisible();
  await snapshot(page, "user");

  await page.getByRole("button", { name: "Log out" }).click();
  await page.getByRole("textbox", { name: "Username" }).fill("olive");
  await page.getByRole("textbox", { name: "Password" }).fill(password);
  await page.getByRole("button", { name: "Log in" }).click();
  await expect(page.getByRole("link", { name: "Orders", exact: true })).toBeVisible();
  await expect(page.getByRole("link", { name: "Users and tokens" })).toHaveCount(0);

  await page.getByRole("link", { name: "Your account: olive" }).click();
  await expect(page).toHaveURL(/\/account$/);
  await page.getByRole("textbox", { name: "Token name" }).fill("e2e script");
  await page.getByRole("button", { name: "Create token" }).click();
  const token = page.getByRole("region", { name: "New token e2e script" });
  const secret = (await token.getByLabel("New token e2e script: value").textContent()) ?? "";
  expect(secret).toMatch(/^fbt_/);
  const tokens = page.getByRole("table", { name: "Tokens" });
  await expect(tokens).toContainText("e2e script");
  await expect(tokens).not.toContainText(secret);
  await snapshot(page, "account");

  const bearer = { Authorization: `Bearer ${secret}` };
  const me = await request.get("/api/v1/auth/me", { headers: bearer });
  expect(me.status()).toBe(200);
  expect(await me.json()).toMatchObject({ username: "olive", role: "operator" });

  await token.getByRole("button", { name: "I have copied it" }).click();
  await tokens.getByRole("button", { name: "Revoke e2e script" }).click();
  await page.getByRole("dialog").getByRole("button", { name: "Revoke e2e script" }).click();
  await expect(tokens).toContainText("revoked");
  expect((await request.get("/api/v1/auth/me", { headers: bearer })).status()).toBe(401);
});
