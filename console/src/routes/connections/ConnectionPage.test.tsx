import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { apiError, fakeFetch, json } from "../../test/fetch";
import { renderAt } from "../../test/render";
import { ConnectionPage, authSecretNames } from "./ConnectionPage";

afterEach(() => vi.unstubAllGlobals());

const CONNECTION = {
  id: 1,
  name: "panel",
  type: "solusvm2",
  base_url: "https://panel.example.com/api/v1",
  purpose: "production",
  settings: {},
  secret_names: ["api_token"],
  allowed_networks: [],
  networks_allowed_at: null,
  networks_allowed_by: null,
  created_at: null,
};
const TYPES = [{ name: "solusvm2", title: "SolusVM 2", secrets: ["api_token"], optional_secrets: [], auth: {} }];

function serve(role = "admin") {
  return fakeFetch((request) => {
    const path = new URL(request.url).pathname;
    if (path === "/api/v1/auth/me") return json({ id: 1, username: "root", role });
    if (path === "/api/v1/connection-types") return json(TYPES);
    if (path === "/api/v1/connections/panel/test") {
      return json({ ok: false, status: 401, message: "HTTP 401", elapsed_ms: 12, exchange: null });
    }
    if (path === "/api/v1/connections/panel") return json(CONNECTION);
    return apiError(404, "NotFound", path);
  });
}

const page = () => renderAt(<ConnectionPage />, { path: "/connections/panel", route: "/connections/:name" });

describe("the secrets a connection's own authentication names", () => {
  it("reads auth's secret, a query scheme's params and each extra credential's", () => {
    expect(authSecretNames('{"auth": {"scheme": "bearer", "secret": "api_token"}}')).toEqual(["api_token"]);
    expect(authSecretNames('{"auth": {"scheme": "query", "params": {"key": "api_key", "pass": "api_pass"}}}')).toEqual([
      "api_key",
      "api_pass",
    ]);
    expect(authSecretNames('{"credentials": {"client": {"scheme": "bearer", "secret": "client_key"}}}')).toEqual([
      "client_key",
    ]);
  });

  it("names none while the settings are not JSON yet, or name no secret", () => {
    expect(authSecretNames('{"auth": {"scheme": "bearer", "secret": "api_')).toEqual([]);
    expect(authSecretNames('{"auth": {"scheme": "none"}}')).toEqual([]);
    expect(authSecretNames("")).toEqual([]);
  });
});

describe("a connection's page", () => {
  it("never shows a secret and sends only what was typed", async () => {
    const calls = serve();
    page();
    expect(await screen.findByLabelText("Secret: api_token")).toHaveValue("");
    await screen.findByRole("button", { name: "Save changes" }); // signed in as an admin
    await userEvent.clear(screen.getByLabelText(/Base URL/));
    await userEvent.click(screen.getByLabelText(/Base URL/));
    await userEvent.paste("https://panel2.example.com/api/v1");
    await userEvent.click(screen.getByRole("button", { name: "Save changes" }));
    const patch = calls.find((c) => c.method === "PATCH");
    const body = (await patch?.json()) as Record<string, unknown>;
    expect(body.base_url).toBe("https://panel2.example.com/api/v1");
    expect(body).not.toHaveProperty("secrets");
  });

  it("shows the test's verdict", async () => {
    serve();
    page();
    await userEvent.click(await screen.findByRole("button", { name: "Test connection" }));
    const verdict = await screen.findByRole("region", { name: "Test result" });
    expect(verdict).toHaveTextContent("failed");
    expect(verdict).toHaveTextContent("HTTP 401");
  });

  it("lets a viewer read but not change", async () => {
    serve("viewer");
    page();
    expect(await screen.findByLabelText(/Base URL/)).toBeDisabled();
    expect(screen.queryByRole("button", { name: "Save changes" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Delete" })).toBeNull();
  });
});
