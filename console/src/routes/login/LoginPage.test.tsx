import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { apiError, fakeFetch, json } from "../../test/fetch";
import { renderAt } from "../../test/render";
import { LoginPage, safeNext } from "./LoginPage";

afterEach(() => vi.unstubAllGlobals());

describe("safeNext", () => {
  it("keeps the operator inside the console", () => {
    expect(safeNext("/orders/42")).toBe("/orders/42");
    expect(safeNext("//evil.example")).toBe("/dashboard");
    expect(safeNext("https://evil.example")).toBe("/dashboard");
    expect(safeNext(null)).toBe("/dashboard");
  });
});

describe("the login page", () => {
  it("says why after a password change ended the session", async () => {
    fakeFetch(() => apiError(401, "HTTPError", "not signed in"));
    renderAt(<LoginPage />, { path: "/login?changed=password", route: "/login" });
    expect(await screen.findByRole("status")).toHaveTextContent("Your password was changed");
  });

  it("shows the API's refusal", async () => {
    fakeFetch((request) =>
      new URL(request.url).pathname === "/api/v1/auth/me"
        ? apiError(401, "HTTPError", "not signed in")
        : apiError(401, "InvalidCredentials", "wrong username or password"),
    );
    renderAt(<LoginPage />, { path: "/login", route: "/login" });
    await userEvent.type(await screen.findByLabelText(/Username/), "ada");
    await userEvent.type(screen.getByLabelText(/Password/), "nope");
    await userEvent.click(screen.getByRole("button", { name: "Log in" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("wrong username or password");
  });

  it("logs in with what was typed", async () => {
    const calls = fakeFetch((request) =>
      new URL(request.url).pathname === "/api/v1/auth/me"
        ? apiError(401, "HTTPError", "not signed in")
        : json({ user: { id: 1, username: "ada", role: "admin" }, csrf_token: "t" }),
    );
    renderAt(<LoginPage />, { path: "/login?next=/runs", route: "/login" });
    await userEvent.type(await screen.findByLabelText(/Username/), "ada");
    await userEvent.type(screen.getByLabelText(/Password/), "s3cret");
    await userEvent.click(screen.getByRole("button", { name: "Log in" }));
    const login = calls.find((c) => c.url.endsWith("/api/v1/auth/login"));
    expect(await login?.json()).toEqual({ username: "ada", password: "s3cret" });
  });
});
