import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { renderAt } from "../../test/render";
import { CataloguePage } from "./CataloguePage";
import { bodies, choose, fakeCatalogue, fill, prepareScreens, problem, type Row } from "./fakeCatalogue";
import { usedOf } from "./hosts";

afterEach(() => vi.unstubAllGlobals());
prepareScreens();

const at = (path: string) => renderAt(<CataloguePage />, { path, route: "/catalogue/*" });

const HOST: Row = {
  id: 12,
  name: "kvm-fra1-01",
  location: "fra1",
  ram_mb: 65536,
  vcpus: 32,
  disk_gb: 1000,
  subnet: "203.0.113.0/24",
  connection: "panel",
  status: "active",
  external_ref: "1",
  ram_mb_used: 6144,
  vcpus_used: 3,
  disk_gb_used: 120,
};
const ROWS = {
  hosts: [HOST],
  locations: [
    { id: 1, code: "fra1", name: "Frankfurt 1" },
    { id: 2, code: "ams1", name: "Amsterdam 1" },
  ],
  subnets: [
    { id: 3, cidr: "203.0.113.0/24", location: "fra1" },
    { id: 4, cidr: "198.51.100.0/24", location: "ams1" },
  ],
};

describe("a host's page", () => {
  it("shows capacity used of total and the status", async () => {
    fakeCatalogue({ rows: ROWS });
    at("/catalogue/hosts/12");
    const capacity = await screen.findByRole("region", { name: "Capacity" });
    expect(capacity).toHaveTextContent("RAM: 6144 / 65536 MB");
    expect(capacity).toHaveTextContent("vCPUs: 3 / 32");
    expect(capacity).toHaveTextContent("Disk: 120 / 1000 GB");
    expect(capacity).toHaveTextContent("active");
  });

  it("drains after asking, and offers to reactivate then", async () => {
    const calls = fakeCatalogue({ rows: ROWS });
    at("/catalogue/hosts/12");
    const capacity = await screen.findByRole("region", { name: "Capacity" });
    expect(within(capacity).queryByRole("button", { name: "Reactivate" })).toBeNull();
    await userEvent.click(await within(capacity).findByRole("button", { name: "Drain" }));
    expect(calls.some((c) => c.method === "PATCH")).toBe(false);
    const dialog = await screen.findByRole("dialog");
    expect(dialog).toHaveTextContent("takes no new services");
    await userEvent.click(within(dialog).getByRole("button", { name: "Drain" }));
    await waitFor(() => expect(within(capacity).getByRole("button", { name: "Reactivate" })).toBeInTheDocument());
    expect(capacity).toHaveTextContent("draining");
    expect(await bodies(calls, "PATCH")).toEqual([{ status: "draining" }]);
  });

  it("shows the API's refusal of a quarantine", async () => {
    fakeCatalogue({
      rows: ROWS,
      refuse: (method) => (method === "PATCH" ? problem(403, "Forbidden", "needs the admin role") : undefined),
    });
    at("/catalogue/hosts/12");
    const capacity = await screen.findByRole("region", { name: "Capacity" });
    await userEvent.click(await within(capacity).findByRole("button", { name: "Quarantine" }));
    await userEvent.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Quarantine" }));
    const refusal = await within(capacity).findByRole("alert");
    expect(refusal).toHaveTextContent("Status not changed");
    expect(refusal).toHaveTextContent("needs the admin role");
  });

  it("shows the API's refusal of a capacity below what the services use", async () => {
    const calls = fakeCatalogue({
      rows: ROWS,
      refuse: (method) =>
        method === "PATCH"
          ? problem(409, "Conflict", "host kvm-fra1-01: ram_mb 4096 is below the 6144 its services use")
          : undefined,
    });
    at("/catalogue/hosts/12");
    await screen.findByRole("button", { name: "Save changes" });
    const ram = screen.getByRole("textbox", { name: /^RAM total/ });
    await userEvent.clear(ram);
    await fill(ram, "4096");
    await userEvent.click(screen.getByRole("button", { name: "Save changes" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("below the 6144 its services use");
    expect(await bodies(calls, "PATCH")).toEqual([{ ram_mb: 4096 }]);
  });

  it("names a wrong field of a new host on that field, and offers the chosen location's subnets", async () => {
    const calls = fakeCatalogue({
      rows: ROWS,
      refuse: (method) =>
        method === "POST"
          ? problem(422, "ValidationError", "invalid request", [
              { path: "body.ram_mb", message: "Input should be greater than or equal to 0" },
            ])
          : undefined,
    });
    at("/catalogue/hosts/new");
    await screen.findByRole("button", { name: "Create host" });
    await fill(screen.getByRole("textbox", { name: /^Name/ }), "kvm-ams1-09");
    await choose(/^Location/, /^ams1/);
    await choose(/^Subnet/, /^198\.51\.100\.0\/24/);
    const asked = calls.map((c) => new URL(c.url)).filter((u) => u.pathname === "/api/v1/subnets");
    expect(asked.map((u) => u.searchParams.get("location"))).toContain("ams1");
    await fill(screen.getByRole("textbox", { name: /^RAM total/ }), "-1");
    await userEvent.click(screen.getByRole("button", { name: "Create host" }));
    await waitFor(() =>
      expect(screen.getByRole("textbox", { name: /^RAM total/ })).toHaveAccessibleDescription(/greater than or equal to 0/),
    );
    expect(await bodies(calls, "POST")).toEqual([expect.objectContaining({ location: "ams1", subnet: "198.51.100.0/24" })]);
  });

  it("is read-only for an operator: no status moves, no save, no delete", async () => {
    fakeCatalogue({ role: "operator", rows: ROWS });
    at("/catalogue/hosts/12");
    const capacity = await screen.findByRole("region", { name: "Capacity" });
    expect(screen.getByRole("textbox", { name: /^Name/ })).toBeDisabled();
    expect(within(capacity).queryByRole("button", { name: "Drain" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Save changes" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Delete" })).toBeNull();
  });
});

describe("the hosts list", () => {
  it("shows each host's capacity and status, filtered by the URL", async () => {
    const calls = fakeCatalogue({ rows: ROWS });
    at("/catalogue/hosts?status=active");
    const table = await screen.findByRole("table", { name: "Hosts" });
    expect(table).toHaveTextContent(usedOf(6144, 65536, "MB"));
    expect(table).toHaveTextContent("active");
    expect(screen.getByRole("link", { name: "New host" })).toHaveAttribute("href", "/catalogue/hosts/new");
    const asked = calls.map((c) => new URL(c.url)).filter((u) => u.pathname === "/api/v1/hosts");
    expect(asked.map((u) => u.searchParams.get("status"))).toContain("active");
  });
});
