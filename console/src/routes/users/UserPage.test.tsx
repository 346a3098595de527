import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeAccounts } from "../../test/accounts";
import { renderAt } from "../../test/render";
import { UserPage } from "./UserPage";

afterEach(() => vi.unstubAllGlobals());

const page = (id: number) => renderAt(<UserPage />, { path: `/users/${id}`, route: "/users/:userId" });

async function confirm(label: string) {
  await userEvent.click(await screen.findByRole("button", { name: label }));
  const dialog = await screen.findByRole("dialog");
  await userEvent.click(within(dialog).getByRole("button", { name: label }));
}

describe("a user's page", () => {
  it("disables a user only after asking, saying it ends their sessions", async () => {
    const fake = new FakeAccounts();
    const ann = fake.add("ann", "operator");
    const calls = fake.serve();
    page(ann.id);
    await userEvent.click(await screen.findByRole("button", { name: "Disable" }));
    const dialog = await screen.findByRole("dialog");
    expect(dialog).toHaveTextContent("ann's sessions end");
    expect(calls.some((c) => c.method === "PATCH")).toBe(false);
    await userEvent.click(within(dialog).getByRole("button", { name: "Disable" }));
    expect(await screen.findByRole("button", { name: "Enable" })).toBeInTheDocument();
    expect(ann.disabled).toBe(true);
  });

  it("shows the API's refusal to demote the last admin", async () => {
    const fake = new FakeAccounts();
    fake.serve();
    page(1);
    await userEvent.selectOptions(await screen.findByRole("combobox", { name: "New role" }), "viewer");
    await confirm("Change role");
    expect(await screen.findByRole("alert")).toHaveTextContent("root is the last enabled admin");
    expect(fake.me.role).toBe("admin");
  });

  it("shows a reset password once", async () => {
    const fake = new FakeAccounts();
    const ann = fake.add("ann", "operator");
    fake.serve();
    page(ann.id);
    await confirm("Reset password");
    const shown = await screen.findByRole("region", { name: "New password of ann" });
    expect(shown).toHaveTextContent("reset-ann-password");
    await userEvent.click(within(shown).getByRole("button", { name: "I have copied it" }));
    expect(screen.queryByText("reset-ann-password")).toBeNull();
  });

  it("manages the user's tokens under their id", async () => {
    const fake = new FakeAccounts();
    const ann = fake.add("ann", "operator");
    const calls = fake.serve();
    page(ann.id);
    await userEvent.type(await screen.findByRole("textbox", { name: /Token name/ }), "backup");
    await userEvent.click(screen.getByRole("button", { name: "Create token" }));
    await screen.findByRole("region", { name: "New token backup" });
    expect(calls.some((c) => c.method === "POST" && c.url.endsWith(`/api/v1/users/${ann.id}/tokens`))).toBe(true);
    expect(fake.tokens[0]?.user_id).toBe(ann.id);
  });
});
