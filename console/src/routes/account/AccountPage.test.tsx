import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeAccounts } from "../../test/accounts";
import { renderAt } from "../../test/render";
import { AccountPage } from "./AccountPage";

afterEach(() => vi.unstubAllGlobals());

const page = () => renderAt(<AccountPage />, { path: "/account" });

describe("one's own tokens", () => {
  it("shows a new token once; the list has only its prefix", async () => {
    const fake = new FakeAccounts("viewer");
    fake.serve();
    page();
    await userEvent.type(await screen.findByRole("textbox", { name: /Token name/ }), "ci");
    await userEvent.click(screen.getByRole("button", { name: "Create token" }));
    const shown = await screen.findByRole("region", { name: "New token ci" });
    expect(shown).toHaveTextContent("fbt_secret1xyz");
    const table = await screen.findByRole("table", { name: "Tokens" });
    expect(table).toHaveTextContent("fbt_secr…");
    expect(table).not.toHaveTextContent("fbt_secret1xyz");
    await userEvent.click(within(shown).getByRole("button", { name: "I have copied it" }));
    expect(screen.queryByText("fbt_secret1xyz")).toBeNull();
  });

  it("revokes a token only after asking", async () => {
    const fake = new FakeAccounts("operator");
    const calls = fake.serve();
    page();
    await userEvent.type(await screen.findByRole("textbox", { name: /Token name/ }), "ci");
    await userEvent.click(screen.getByRole("button", { name: "Create token" }));
    await userEvent.click(await screen.findByRole("button", { name: "Revoke ci" }));
    const dialog = await screen.findByRole("dialog");
    expect(dialog).toHaveTextContent("stops working at once");
    expect(calls.some((c) => c.method === "DELETE")).toBe(false);
    await userEvent.click(within(dialog).getByRole("button", { name: "Keep as is" }));
    expect(calls.some((c) => c.method === "DELETE")).toBe(false);
    const table = screen.getByRole("table", { name: "Tokens" });
    await userEvent.click(within(table).getByRole("button", { name: "Revoke ci" }));
    await userEvent.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Revoke ci" }));
    expect(await screen.findByText("revoked")).toBeInTheDocument();
    expect(fake.tokens[0]?.revoked_at).not.toBeNull();
  });
});

describe("changing one's password", () => {
  async function fill(current: string, next: string, again: string) {
    await userEvent.type(await screen.findByLabelText(/^Current password/), current);
    await userEvent.type(screen.getByLabelText(/^New password$|^New password \*/), next);
    await userEvent.type(screen.getByLabelText(/^New password again/), again);
  }

  it("needs the new password twice the same", async () => {
    const fake = new FakeAccounts("viewer");
    const calls = fake.serve();
    page();
    await fill("the root password", "a new long password", "a new long passwork");
    expect(screen.getByText("the two new passwords differ")).toBeInTheDocument();
    expect(screen.getByRole("button", { name: "Change password" })).toBeDisabled();
    expect(calls.some((c) => c.url.endsWith("/auth/password"))).toBe(false);
  });

  it("shows the API's answer: a wrong current password, then a change", async () => {
    const fake = new FakeAccounts("viewer");
    fake.serve();
    page();
    await fill("not my password", "a new long password", "a new long password");
    await userEvent.click(screen.getByRole("button", { name: "Change password" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("the current password is wrong");
    await userEvent.clear(screen.getByLabelText(/^Current password/));
    await userEvent.type(screen.getByLabelText(/^Current password/), "the root password");
    await userEvent.click(screen.getByRole("button", { name: "Change password" }));
    expect(await screen.findByText("Password changed")).toBeInTheDocument();
    expect(fake.passwords.get(fake.me.id)).toBe("a new long password");
  });
});
