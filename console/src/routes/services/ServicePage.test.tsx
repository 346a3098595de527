import { screen, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { apiError, fakeFetch, json } from "../../test/fetch";
import { renderAt } from "../../test/render";
import { ServicePage } from "./ServicePage";

afterEach(() => vi.unstubAllGlobals());

const VERBS = ["suspend", "unsuspend", "terminate", "reinstall", "resize", "reset_password", "console", "stats"];

function verbs(allowed: string[], offered = VERBS) {
  return VERBS.map((verb) => ({
    verb,
    offered: offered.includes(verb),
    allowed: allowed.includes(verb),
    refusal: allowed.includes(verb) ? null : `cannot ${verb} service 5: it is active`,
  }));
}

const STATS = {
  id: 31,
  service_id: 5,
  order_id: 12,
  run_id: 40,
  verb: "stats",
  params: {},
  plugin: "solusvm2@1",
  state: "completed",
  attempt: 0,
  waiting_for: null,
  error: null,
  result: { cpu_load_average: [0.5, 0.7] },
  requested_by: "ops",
  reason: null,
  created_at: "2026-12-07T20:10:00+00:00",
  finished_at: "2026-12-07T20:10:02+00:00",
};

const SERVICE = {
  id: 5,
  order_id: 12,
  order_state: "active",
  hostname: "vps12.example.com",
  state: "active",
  product: "vps-2g",
  plugin: "solusvm2@1",
  host_id: 1,
  host: "kvm-ams1-01",
  external_id: "77",
  service_data: { uuid: "abc" },
  addresses: [{ address: "10.0.0.5", subnet: "10.0.0.0/24", gateway: "10.0.0.1", state: "assigned" }],
  has_credentials: true,
  capabilities: ["canSuspend", "canGetStats"],
  verbs: verbs(["suspend", "terminate", "stats"]),
  running_action_id: null,
  actions: [STATS],
  created_at: "2026-12-07T20:00:00+00:00",
  updated_at: "2026-12-07T20:05:00+00:00",
};

function serve(service: object, role = "operator", act?: (request: Request) => Response) {
  return fakeFetch((request) => {
    const path = new URL(request.url).pathname;
    if (path === "/api/v1/auth/me") return json({ id: 1, username: "ops", role });
    if (path === "/api/v1/services/5") return json(service);
    if (path.startsWith("/api/v1/services/5/actions/") && act) return act(request);
    return apiError(404, "NotFound", `nothing at ${path}`);
  });
}

function queued(verb: string, reason: string | null = null) {
  return json({ ...STATS, id: 32, verb, state: "queued", result: null, reason, replayed: false }, 202);
}

describe("a service", () => {
  it("shows its state, details, order link and the latest action's result", async () => {
    serve(SERVICE);
    renderAt(<ServicePage />, { path: "/services/5", route: "/services/:serviceId" });
    expect(await screen.findByRole("heading", { name: "Service 5 · vps12.example.com" })).toBeInTheDocument();
    expect(screen.getByLabelText("Service state")).toHaveTextContent("active");
    const details = screen.getByRole("region", { name: "Details" });
    expect(within(details).getByRole("link", { name: "Order 12" })).toHaveAttribute("href", "/orders/12");
    expect(details).toHaveTextContent("10.0.0.5 (10.0.0.0/24");
    expect(details).toHaveTextContent("kvm-ams1-01");
    const latest = screen.getByRole("region", { name: "Latest action" });
    expect(within(latest).getByLabelText("Result of stats")).toHaveTextContent("cpu_load_average");
    const history = screen.getByRole("table", { name: "Actions of the service" });
    expect(within(history).getAllByRole("row")).toHaveLength(2);
  });

  it("offers buttons only for the verbs the API allows now", async () => {
    serve(SERVICE);
    renderAt(<ServicePage />, { path: "/services/5", route: "/services/:serviceId" });
    const actions = await screen.findByRole("region", { name: "Actions" });
    await within(actions).findByRole("button", { name: "Stats" });
    const names = within(actions)
      .getAllByRole("button")
      .map((b) => b.textContent);
    expect(names).toEqual(["Stats", "Suspend", "Terminate"]);
    expect(within(actions).getByLabelText("Unavailable now")).toHaveTextContent("cannot unsuspend service 5");
  });

  it("runs a harmless verb at once", async () => {
    const calls = serve(SERVICE, "operator", () => queued("stats"));
    renderAt(<ServicePage />, { path: "/services/5", route: "/services/:serviceId" });
    await userEvent.click(await screen.findByRole("button", { name: "Stats" }));
    expect(await screen.findByText("Queued stats (action 32).")).toBeInTheDocument();
    const posted = calls.find((c) => c.method === "POST");
    expect(new URL(posted!.url).pathname).toBe("/api/v1/services/5/actions/stats");
  });

  it("asks before suspending and sends the reason", async () => {
    const calls = serve(SERVICE, "operator", () => queued("suspend", "overdue"));
    renderAt(<ServicePage />, { path: "/services/5", route: "/services/:serviceId" });
    await userEvent.click(await screen.findByRole("textbox", { name: /Reason/ }));
    await userEvent.paste("overdue");
    await userEvent.click(screen.getByRole("button", { name: "Suspend" }));
    const dialog = await screen.findByRole("dialog");
    expect(dialog).toHaveTextContent("Reason: overdue");
    expect(calls.some((c) => c.method === "POST")).toBe(false);
    await userEvent.click(within(dialog).getByRole("button", { name: "Suspend" }));
    expect(await screen.findByText("Queued suspend (action 32).")).toBeInTheDocument();
    const posted = calls.find((c) => c.method === "POST")!;
    expect(await posted.json()).toEqual({ params: {}, reason: "overdue" });
  });

  it("keeps as is when the operator changes their mind", async () => {
    const calls = serve(SERVICE, "operator", () => queued("terminate"));
    renderAt(<ServicePage />, { path: "/services/5", route: "/services/:serviceId" });
    await userEvent.click(await screen.findByRole("button", { name: "Terminate" }));
    await userEvent.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Keep as is" }));
    expect(calls.some((c) => c.method === "POST")).toBe(false);
  });

  it("sends a resize's new options and shows the API's refusal", async () => {
    const calls = serve({ ...SERVICE, verbs: verbs(["resize"]) }, "operator", () =>
      apiError(409, "Conflict", "service 5 already has action 30 (stats) running; wait for it to finish"),
    );
    renderAt(<ServicePage />, { path: "/services/5", route: "/services/:serviceId" });
    await userEvent.click(await screen.findByRole("button", { name: "Resize…" }));
    const options = screen.getByRole("textbox", { name: /New plan options/ });
    await userEvent.click(options);
    await userEvent.paste("plan 3");
    await userEvent.click(screen.getByRole("button", { name: "Queue resize" }));
    expect(await screen.findByText(/must be JSON/)).toBeInTheDocument();
    expect(calls.some((c) => c.method === "POST")).toBe(false);
    await userEvent.clear(options);
    await userEvent.paste('{"plan_id": 3}');
    await userEvent.click(screen.getByRole("button", { name: "Queue resize" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("already has action 30");
    const posted = calls.find((c) => c.method === "POST")!;
    expect(await posted.json()).toEqual({ params: { options: { plan_id: 3 } } });
  });

  it("shows viewers no action buttons and no reveal", async () => {
    serve(SERVICE, "viewer");
    renderAt(<ServicePage />, { path: "/services/5", route: "/services/:serviceId" });
    const actions = await screen.findByRole("region", { name: "Actions" });
    expect(await within(actions).findByText(/needs the operator role/)).toBeInTheDocument();
    expect(within(actions).queryAllByRole("button")).toEqual([]);
    expect(screen.queryByRole("button", { name: "Reveal root password" })).toBeNull();
  });

  it("shows a running action while nothing else is allowed", async () => {
    const running = { ...STATS, id: 33, verb: "suspend", state: "running", result: null };
    serve({ ...SERVICE, verbs: verbs([]), running_action_id: 33, actions: [running, STATS] });
    renderAt(<ServicePage />, { path: "/services/5", route: "/services/:serviceId" });
    const latest = await screen.findByRole("region", { name: "Latest action" });
    expect(within(latest).getByLabelText("Action state")).toHaveTextContent("running");
    expect(within(screen.getByRole("region", { name: "Actions" })).queryAllByRole("button")).toEqual([]);
  });

  it("has loading and error states", async () => {
    fakeFetch(() => apiError(404, "NotFound", "service 5 does not exist"));
    renderAt(<ServicePage />, { path: "/services/5", route: "/services/:serviceId" });
    expect(screen.getByRole("status")).toHaveTextContent("Loading the service");
    expect(await screen.findByRole("alert")).toHaveTextContent("service 5 does not exist");
  });

  it("has an empty action history", async () => {
    serve({ ...SERVICE, actions: [] });
    renderAt(<ServicePage />, { path: "/services/5", route: "/services/:serviceId" });
    expect(await screen.findByText("No action yet.")).toBeInTheDocument();
    expect(screen.queryByRole("region", { name: "Latest action" })).toBeNull();
  });
});
