import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { FakeAccounts } from "../../test/accounts";
import { apiError, fakeFetch } from "../../test/fetch";
import { renderAt } from "../../test/render";
import { NewUserPage, UsersPage } from "./UsersPage";

afterEach(() => vi.unstubAllGlobals());

describe("the users list", () => {
  it("lists each user with role, state and last login", async () => {
    const fake = new FakeAccounts();
    fake.add("ann", "operator").disabled = true;
    fake.serve();
    renderAt(<UsersPage />, { path: "/users" });
    const table = await screen.findByRole("table", { name: "Users" });
    const ann = within(table).getByRole("link", { name: "ann" }).closest("tr") as HTMLElement;
    expect(ann).toHaveTextContent("operator");
    expect(ann).toHaveTextContent("disabled");
    expect(ann).toHaveTextContent("never");
    expect(within(table).getByRole("link", { name: "root" })).toHaveAttribute("href", "/users/1");
    expect(screen.getByRole("link", { name: "New user" })).toHaveAttribute("href", "/users/new");
  });
});

describe("a new user", () => {
  it("gets the generated password shown once, then never again", async () => {
    const fake = new FakeAccounts();
    const calls = fake.serve();
    renderAt(<NewUserPage />, { path: "/users/new" });
    await userEvent.type(screen.getByRole("textbox", { name: /Username/ }), "ann");
    await userEvent.click(screen.getByRole("button", { name: "Create user" }));
    const shown = await screen.findByRole("region", { name: "Password of ann" });
    expect(shown).toHaveTextContent("generated-ann-0001");
    expect(shown).toHaveTextContent("shown this once and never again");
    expect(within(shown).getByRole("button", { name: "Copy" })).toBeInTheDocument();
    const post = calls.find((c) => c.method === "POST");
    expect(await post?.json()).toEqual({ username: "ann", role: "operator" });
    expect(fake.users.map((u) => u.username)).toEqual(["root", "ann"]);

    await userEvent.click(within(shown).getByRole("button", { name: "I have copied it" }));
    expect(screen.queryByText("generated-ann-0001")).toBeNull();
    expect(screen.getByRole("form", { name: "New user" })).toBeInTheDocument();
  });

  it("shows the API's refusal", async () => {
    fakeFetch(() => apiError(409, "Conflict", "a user named 'root' exists"));
    renderAt(<NewUserPage />, { path: "/users/new" });
    await userEvent.type(screen.getByRole("textbox", { name: /Username/ }), "root");
    await userEvent.click(screen.getByRole("button", { name: "Create user" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("a user named 'root' exists");
  });
});
