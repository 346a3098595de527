import { screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { apiError, fakeFetch, json } from "../../test/fetch";
import { renderAt } from "../../test/render";
import { SwitchPortJobs } from "./SwitchPortJobs";

afterEach(() => vi.unstubAllGlobals());

const FAILED_JOB = {
  id: 3,
  run_id: 17,
  order_id: 42,
  service_id: 5,
  host_id: 2,
  port: "ge-0/0/7",
  vlan: 120,
  operation: "trunk_add" as const,
  state: "failed" as const,
  attempt: 0,
  last_error: { code: "PermanentUpstreamError", message: "ovsdb: the switch has no port named 'ge-0/0/7'" },
  result: null,
  created_at: "2026-12-08T01:00:00Z",
  updated_at: "2026-12-08T01:00:01Z",
};

function serve(role = "operator") {
  return fakeFetch((request) => {
    const path = new URL(request.url).pathname;
    if (path === "/api/v1/auth/me") return json({ id: 1, username: "ops", role });
    if (path === "/api/v1/runs/17/retry") return json({ id: 17, state: "queued" });
    return apiError(404, "NotFound", `nothing at ${path}`);
  });
}

describe("the order's switch-port jobs", () => {
  it("shows the port, the VLAN change and why it failed, and retries its run", async () => {
    const calls = serve();
    renderAt(<SwitchPortJobs orderId={42} jobs={[FAILED_JOB]} />);
    const region = await screen.findByRole("region", { name: "Switch-port jobs" });
    expect(region).toHaveTextContent("trunk adds VLAN 120");
    expect(region).toHaveTextContent("no port named 'ge-0/0/7'");
    await userEvent.click(await screen.findByRole("button", { name: "Retry the job on ge-0/0/7" }));
    expect(calls.some((c) => c.url.endsWith("/api/v1/runs/17/retry"))).toBe(true);
  });

  it("offers no retry to a viewer, and shows nothing without jobs", async () => {
    serve("viewer");
    const { unmount } = renderAt(<SwitchPortJobs orderId={42} jobs={[FAILED_JOB]} />);
    expect(await screen.findByRole("region", { name: "Switch-port jobs" })).toBeInTheDocument();
    expect(screen.queryByRole("button", { name: /Retry/ })).toBeNull();
    unmount();
    renderAt(<SwitchPortJobs orderId={42} jobs={[]} />);
    expect(screen.queryByRole("region", { name: "Switch-port jobs" })).toBeNull();
  });
});
