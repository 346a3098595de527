import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { apiError, fakeFetch, json } from "../../test/fetch";
import { renderAt } from "../../test/render";
import { TestPanel } from "./TestPanel";

afterEach(() => vi.unstubAllGlobals());

const DOCUMENT = { format: "fluxbilling-visual-plugin", plugin: { slug: "acme" }, flows: {} };
const CONNECTIONS = { items: [{ name: "acme-lab", purpose: "test" }], next_cursor: null };
const DONE = {
  status: "done",
  plugin: "acme (unsaved)",
  verb: "test",
  connection: "acme-lab",
  steps: [],
  service_data: {},
  result: null,
  error: null,
  check_after: null,
  resume_token: null,
  expires_at: null,
  truncated: false,
};

function serve() {
  return fakeFetch((request) => {
    const path = new URL(request.url).pathname;
    if (path === "/api/v1/connections") return json(CONNECTIONS);
    if (path === "/api/v1/plugins/test-runs") return json(DONE);
    return apiError(404, "NotFound", `nothing at ${path}`);
  });
}

describe("the test panel", () => {
  it("offers the plugin's test flow, which takes no inputs", async () => {
    const calls = serve();
    renderAt(<TestPanel document={() => DOCUMENT} verbs={["provision", "test"]} verb="test" onTrace={() => {}} />);
    expect(screen.getByRole("combobox", { name: "Verb" })).toHaveValue("test");
    expect(screen.queryByRole("textbox", { name: "Inputs (the flow context)" })).toBeNull();
    expect(screen.queryByText("From a past run")).toBeNull();
    expect(screen.getByText(/sees only the connection/)).toBeInTheDocument();

    await userEvent.click(screen.getByRole("combobox", { name: "Connection" }));
    await userEvent.click(await screen.findByRole("option", { name: "acme-lab (test)", hidden: true }));
    await userEvent.click(screen.getByRole("button", { name: "Run test" }));
    expect(await screen.findByLabelText("Test status")).toHaveTextContent("done");
    const sent = calls.find((c) => c.url.endsWith("/api/v1/plugins/test-runs"));
    const body = (await sent?.json()) as Record<string, unknown>;
    expect(body.verb).toBe("test");
    expect(body.inputs).toBeUndefined();
    expect(body.from_run).toBeUndefined();
  }, 20000);

  it("keeps the inputs for a lifecycle verb", async () => {
    serve();
    renderAt(<TestPanel document={() => DOCUMENT} verbs={["provision", "test"]} verb="provision" onTrace={() => {}} />);
    expect(screen.getByRole("combobox", { name: "Verb" })).toHaveValue("provision");
    expect(screen.getByRole("textbox", { name: "Inputs (the flow context)" })).toBeInTheDocument();
    expect(screen.getByText("From a past run")).toBeInTheDocument();
  });
});
