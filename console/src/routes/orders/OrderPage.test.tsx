import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { apiError, fakeFetch, json } from "../../test/fetch";
import { renderAt } from "../../test/render";
import { OrderPage } from "./OrderPage";

afterEach(() => vi.unstubAllGlobals());

const FAILED = {
  id: 42,
  hostname: "vps42.example.com",
  state: "provisioning",
  invoice: null,
  service: null,
  run: {
    id: 9,
    state: "failed",
    phase: "provision",
    attempt: 1,
    next_run_at: "2026-12-07T20:00:00Z",
    wait_reason: null,
    lease_owner: null,
    last_error: { code: "PermanentUpstreamError", message: "solusvm2: create server: HTTP 422" },
    last_upstream: {
      upstream: "solusvm2",
      operation: "create server",
      request: { method: "POST", url: "http://panel/api/v1/servers", headers: {}, body: { name: "vps42" } },
      response: { status: 422, headers: {}, body: { message: "The plan is not available." } },
    },
  },
  phases: [
    { phase: "billing", status: "done", output: {}, attempts: [], suggestion: null },
    {
      phase: "allocation",
      status: "done",
      output: {},
      attempts: [
        {
          run_id: 9,
          number: 1,
          outcome: "completed",
          started_at: null,
          finished_at: "2026-12-07T19:59:59Z",
          duration_seconds: null,
          error: null,
          exchanges: [],
        },
      ],
      suggestion: null,
    },
    {
      phase: "provision",
      status: "failed",
      output: null,
      attempts: [
        {
          run_id: 9,
          number: 1,
          outcome: "failed",
          started_at: "2026-12-07T20:00:00Z",
          finished_at: "2026-12-07T20:00:01Z",
          duration_seconds: 1.2,
          error: {
            error_class: "permanent",
            code: "PermanentUpstreamError",
            message: "HTTP 422",
            upstream: "solusvm2",
            operation: "create server",
            status: 422,
          },
          exchanges: [
            {
              upstream: "solusvm2",
              operation: "create server",
              request: { method: "POST", url: "http://panel/api/v1/servers", headers: {}, body: { name: "vps42" } },
              response: { status: 422, headers: {}, body: { message: "The plan is not available." } },
              error: null,
            },
          ],
        },
      ],
      suggestion: { action: "retry", message: "Fix the plan, then retry from provision.", from_phase: "provision", link: null },
    },
  ],
  activity: [],
  reallocation_refusal: "the service was created upstream",
  retry_from: ["provision"],
};

function serve(order: object, role = "operator") {
  return fakeFetch((request) => {
    const path = new URL(request.url).pathname;
    if (path === "/api/v1/auth/me") return json({ id: 1, username: "ops", role });
    if (path === "/api/v1/orders/42") return json(order);
    if (path === "/api/v1/orders/42/retry") return json({ id: 9, state: "queued" });
    return apiError(404, "NotFound", `nothing at ${path}`);
  });
}

describe("the order page", () => {
  it("shows the failed phase's error and the upstream's answer", async () => {
    serve(FAILED);
    renderAt(<OrderPage />, { path: "/orders/42", route: "/orders/:orderId" });
    expect(await screen.findByText("solusvm2: create server: HTTP 422")).toBeInTheDocument();
    const response = screen.getByRole("region", { name: "Upstream response" });
    expect(response).toHaveTextContent("HTTP 422");
    expect(response).toHaveTextContent("The plan is not available.");
    expect(screen.getByLabelText("Suggested action")).toHaveTextContent("Fix the plan");
  });

  it("shows the capacity and address the checkout holds", async () => {
    const hold = {
      id: 7,
      order_id: 42,
      host_id: 3,
      host_name: "hv-ams1-01",
      subnet_id: 1,
      address: "192.0.2.10",
      ram_mb: 2048,
      vcpus: 2,
      disk_gb: 40,
      state: "held",
      reason: null,
      expires_at: "2026-12-07T20:30:00Z",
      created_at: "2026-12-07T20:00:00Z",
      updated_at: "2026-12-07T20:00:00Z",
    };
    serve({ ...FAILED, hold });
    renderAt(<OrderPage />, { path: "/orders/42", route: "/orders/:orderId" });
    const rows = await screen.findByRole("table", { name: "Checkout hold" });
    expect(rows).toHaveTextContent("held");
    expect(rows).toHaveTextContent("2048 MB / 2 vCPU / 40 GB on hv-ams1-01, 192.0.2.10");
    expect(rows).toHaveTextContent("Held until");
  });

  it("offers re-allocation only when the API does not refuse it", async () => {
    serve(FAILED);
    const { unmount } = renderAt(<OrderPage />, { path: "/orders/42", route: "/orders/:orderId" });
    expect(await screen.findByRole("button", { name: "Retry" })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Re-allocate" })).toBeNull();
    unmount();
    serve({ ...FAILED, reallocation_refusal: null });
    renderAt(<OrderPage />, { path: "/orders/42", route: "/orders/:orderId" });
    expect(await screen.findByRole("button", { name: "Re-allocate" })).toBeInTheDocument();
  });

  it("retries from the phase the operator picks", async () => {
    const calls = serve(FAILED);
    renderAt(<OrderPage />, { path: "/orders/42", route: "/orders/:orderId" });
    await userEvent.click(await screen.findByRole("button", { name: "Retry" }));
    const retry = calls.find((c) => c.url.endsWith("/api/v1/orders/42/retry"));
    expect(await retry?.json()).toEqual({ from_phase: "provision" });
  });

  it("offers only the phases the API says a retry may start from", async () => {
    const offered = async () => {
      await screen.findByRole("button", { name: "Retry" }, { timeout: 5000 });
      const [input] = screen.getAllByLabelText("Retry from phase");
      await userEvent.click(input!);
      return (await screen.findAllByRole("option", { hidden: true })).map((o) => o.textContent);
    };
    serve({ ...FAILED, retry_from: ["allocation", "provision"] });
    const { unmount } = renderAt(<OrderPage />, { path: "/orders/42", route: "/orders/:orderId" });
    expect(await offered()).toEqual(["allocation", "provision"]);
    unmount();
    serve(FAILED); // allocation completed: the engine would refuse it, so it is not offered
    renderAt(<OrderPage />, { path: "/orders/42", route: "/orders/:orderId" });
    expect(await offered()).toEqual(["provision"]);
  }, 20000);

  it("shows an attempt's duration, and a dash when the API does not know it", async () => {
    serve(FAILED);
    renderAt(<OrderPage />, { path: "/orders/42", route: "/orders/:orderId" });
    const allocation = await screen.findByLabelText("Attempts of allocation");
    expect(allocation).toHaveTextContent("—");
    expect(allocation).not.toHaveTextContent("0 ms");
    expect(screen.getByLabelText("Attempts of provision")).toHaveTextContent("1.2 s");
  });

  it("shows a phase's duration only when it took time (billing is not timed)", async () => {
    const attempt = FAILED.phases[1]!.attempts[0]!;
    const at = (started: string, finished: string) => [
      { ...attempt, started_at: started, finished_at: finished, duration_seconds: null },
    ];
    const phases = FAILED.phases.map((p) =>
      p.phase === "billing"
        ? { ...p, attempts: at("2026-12-07T19:59:50Z", "2026-12-07T19:59:50Z") }
        : p.phase === "allocation"
          ? { ...p, attempts: at("2026-12-07T19:59:52Z", "2026-12-07T19:59:54Z") }
          : p,
    );
    serve({ ...FAILED, phases });
    renderAt(<OrderPage />, { path: "/orders/42", route: "/orders/:orderId" });
    expect(await screen.findByLabelText("allocation took")).toHaveTextContent("2.0 s");
    expect(screen.queryByLabelText("billing took")).toBeNull();
  });

  it("offers no retry for a run that has completed", async () => {
    serve({ ...FAILED, state: "active", run: { ...FAILED.run, state: "completed", last_error: null }, retry_from: [] });
    renderAt(<OrderPage />, { path: "/orders/42", route: "/orders/:orderId" });
    expect(await screen.findByText("Order 42 · vps42.example.com")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Retry" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Cancel order" })).toBeNull();
  });

  it("shows a viewer no buttons at all", async () => {
    serve(FAILED, "viewer");
    renderAt(<OrderPage />, { path: "/orders/42", route: "/orders/:orderId" });
    expect(await screen.findByText("solusvm2: create server: HTTP 422")).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Retry" })).toBeNull();
  });

  it("says so when there is no such order", async () => {
    fakeFetch(() => apiError(404, "NotFound", "no order 42"));
    renderAt(<OrderPage />, { path: "/orders/42", route: "/orders/:orderId" });
    expect(await screen.findByRole("alert")).toHaveTextContent("no order 42");
  });
});
