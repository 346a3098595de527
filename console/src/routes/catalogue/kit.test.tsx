import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiError } from "../../api/client";
import { renderAt } from "../../test/render";
import { CataloguePage } from "./CataloguePage";
import { describeChanges } from "./EntityPage";
import { bodies, fakeCatalogue, prepareScreens, problem } from "./fakeCatalogue";
import { changed } from "./kind";
import { placeProblems } from "./problems";

afterEach(() => vi.unstubAllGlobals());
prepareScreens();

const at = (path: string) => renderAt(<CataloguePage />, { path, route: "/catalogue/*" });

const FRA = { id: 1, code: "fra1", name: "Frankfurt 1" };
const AUDIT = [
  { id: 7, actor: "alice", action: "location.update", entity: "location", entity_id: "1", changes: { name: { from: "Frankfurt", to: "Frankfurt 1" } }, created_at: "2026-12-07T10:00:00Z" },
  { id: 3, actor: "cli", action: "location.create", entity: "location", entity_id: "1", changes: { code: "fra1", name: "Frankfurt" }, created_at: "2026-12-06T10:00:00Z" },
];

describe("placing the API's problems", () => {
  const error = new ApiError(422, "InvalidSettings", "product is invalid", {
    problems: [
      { path: "ram_mb", message: "must be at least 1" },
      { path: "body.currency", message: "String should have at most 3 characters" },
      { path: "options.plan_id", message: "is not of type 'integer'" },
      { path: "(document)", message: "something else" },
    ],
  });

  it("puts each on the field it starts with, and keeps the others apart", () => {
    const placed = placeProblems(error, ["ram_mb", "currency", "options"]);
    expect(placed.fields.get("ram_mb")).toEqual(["must be at least 1"]);
    expect(placed.fields.get("currency")).toEqual(["String should have at most 3 characters"]);
    expect(placed.fields.get("options")).toEqual(["plan_id: is not of type 'integer'"]);
    expect(placed.rest).toEqual([{ path: "(document)", message: "something else" }]);
  });

  it("finds nothing in an error that is not a validation answer", () => {
    expect(placeProblems(new Error("offline"), ["ram_mb"]).fields.size).toBe(0);
    expect(placeProblems(new ApiError(409, "Conflict", "in use", {}), ["ram_mb"]).rest).toEqual([]);
  });
});

describe("the kit's helpers", () => {
  it("sends only what changed", () => {
    expect(changed({ name: "a", dns: ["x"], n: 1 }, { name: "a", dns: ["x", "y"], n: 2 })).toEqual({ dns: ["x", "y"], n: 2 });
  });

  it("describes an audit row's changes a line a field", () => {
    expect(describeChanges({ ram_mb: { from: 1024, to: 2048 }, name: "x" })).toEqual(["ram_mb: 1024 → 2048", 'name: "x"']);
  });
});

describe("an entry's page", () => {
  it("creates, then opens what it created", async () => {
    const calls = fakeCatalogue();
    at("/catalogue/locations/new");
    await userEvent.type(await screen.findByRole("textbox", { name: /Code/ }), "ams2");
    await userEvent.type(screen.getByRole("textbox", { name: /Name/ }), "Amsterdam 2");
    await userEvent.click(screen.getByRole("button", { name: "Create location" }));
    expect(await screen.findByRole("heading", { name: "Location ams2" })).toBeInTheDocument();
    expect(await bodies(calls, "POST")).toEqual([{ code: "ams2", name: "Amsterdam 2" }]);
  });

  it("shows the API's problems on the fields they name", async () => {
    fakeCatalogue({
      refuse: (method) =>
        method === "POST"
          ? problem(422, "InvalidSettings", "location is invalid: code: letters, digits", [
              { path: "code", message: "letters, digits, '.', '_', '-'" },
              { path: "body.name", message: "String should have at least 1 character" },
            ])
          : undefined,
    });
    at("/catalogue/locations/new");
    await userEvent.type(await screen.findByRole("textbox", { name: /Code/ }), "a b");
    await userEvent.click(screen.getByRole("button", { name: "Create location" }));
    const code = screen.getByRole("textbox", { name: /Code/ });
    await waitFor(() => expect(code).toHaveAccessibleDescription(/letters, digits, '.', '_', '-'/));
    expect(code).toHaveAttribute("aria-invalid", "true");
    expect(screen.getByRole("textbox", { name: /Name/ })).toHaveAccessibleDescription(/at least 1 character/);
    expect(screen.getByRole("alert")).toHaveTextContent("Not saved");
  });

  it("changes only the fields edited, and shows the history", async () => {
    const calls = fakeCatalogue({ rows: { locations: [FRA], audit: AUDIT } });
    at("/catalogue/locations/1");
    const history = await screen.findByRole("table", { name: "History" });
    expect(history).toHaveTextContent("alice");
    expect(history).toHaveTextContent('name: "Frankfurt" → "Frankfurt 1"');
    expect(history).toHaveTextContent("create");
    await userEvent.type(screen.getByRole("textbox", { name: /Name/ }), " (main)");
    await userEvent.click(screen.getByRole("button", { name: "Save changes" }));
    expect(await screen.findByText("Saved.")).toBeInTheDocument();
    expect(await bodies(calls, "PATCH")).toEqual([{ name: "Frankfurt 1 (main)" }]);
  });

  it("asks before deleting, and shows the API's refusal", async () => {
    const calls = fakeCatalogue({
      rows: { locations: [FRA] },
      refuse: (method) =>
        method === "DELETE"
          ? problem(409, "Conflict", "location fra1 has 2 hosts, 1 subnet: it cannot be deleted while in use")
          : undefined,
    });
    at("/catalogue/locations/1");
    await userEvent.click(await screen.findByRole("button", { name: "Delete" }));
    expect(calls.some((c) => c.method === "DELETE")).toBe(false);
    await userEvent.click(within(await screen.findByRole("dialog")).getByRole("button", { name: "Delete" }));
    const refusal = await screen.findByRole("alert");
    expect(refusal).toHaveTextContent("Not deleted");
    expect(refusal).toHaveTextContent("location fra1 has 2 hosts, 1 subnet");
  });

  it("shows the API's 403 when a save is refused anyway", async () => {
    fakeCatalogue({
      rows: { locations: [FRA] },
      refuse: (method) => (method === "PATCH" ? problem(403, "Forbidden", "needs the admin role") : undefined),
    });
    at("/catalogue/locations/1");
    await userEvent.type(await screen.findByRole("textbox", { name: /Name/ }), "!");
    await userEvent.click(screen.getByRole("button", { name: "Save changes" }));
    expect(await screen.findByRole("alert")).toHaveTextContent("needs the admin role");
  });
});

describe("roles", () => {
  it("lets a viewer read the lists and pages, without New, Save or Delete", async () => {
    fakeCatalogue({ role: "viewer", rows: { locations: [FRA] } });
    const { unmount } = at("/catalogue/locations");
    expect(await screen.findByRole("link", { name: "fra1" })).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "New location" })).toBeNull();
    unmount();
    at("/catalogue/locations/1");
    expect(await screen.findByRole("textbox", { name: /Name/ })).toBeDisabled();
    expect(screen.queryByRole("button", { name: "Save changes" })).toBeNull();
    expect(screen.queryByRole("button", { name: "Delete" })).toBeNull();
  });

  it("lets an operator write customers but not locations", async () => {
    fakeCatalogue({ role: "operator" });
    const { unmount } = at("/catalogue/customers");
    expect(await screen.findByRole("link", { name: "New customer" })).toBeInTheDocument();
    unmount();
    at("/catalogue/locations");
    expect(await screen.findByText(/No locations yet/)).toBeInTheDocument();
    expect(screen.queryByRole("link", { name: "New location" })).toBeNull();
  });
});

describe("the lists", () => {
  it("send the URL's filters to the API", async () => {
    const calls = fakeCatalogue({ rows: { subnets: [] } });
    at("/catalogue/subnets?location=fra1");
    expect(await screen.findByText("No subnets match these filters.")).toBeInTheDocument();
    const asked = calls.map((c) => new URL(c.url)).find((u) => u.pathname === "/api/v1/subnets" && u.searchParams.has("location"));
    expect(asked?.searchParams.get("location")).toBe("fra1");
  });

  it("open the first kind from /catalogue", async () => {
    fakeCatalogue({ rows: { locations: [FRA] } });
    at("/catalogue");
    expect(await screen.findByRole("table", { name: "Locations" })).toHaveTextContent("Frankfurt 1");
    expect(screen.getByRole("tab", { name: "Locations" })).toHaveAttribute("aria-selected", "true");
  });
});
