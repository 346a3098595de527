import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it, vi } from "vitest";
import { apiError, fakeFetch, json } from "../../test/fetch";
import { renderAt } from "../../test/render";
import { AuditPage, entityPath, fieldChanges } from "./AuditPage";

afterEach(() => vi.unstubAllGlobals());

const ROWS = [
  {
    id: 12,
    actor: "olga",
    action: "host.update",
    entity: "host",
    entity_id: "3",
    changes: { state: { from: "active", to: "quarantined" } },
    created_at: "2026-12-07T20:00:00Z",
  },
  {
    id: 11,
    actor: "installation-token",
    action: "connection.update",
    entity: "connection",
    entity_id: "solusvm2",
    changes: { credentials_set: ["api_token"], base_url: "http://panel.test/api" },
    created_at: "2026-12-07T19:00:00Z",
  },
  {
    id: 10,
    actor: "alice",
    action: "user.login_failed",
    entity: "user",
    entity_id: null,
    changes: {},
    created_at: "2026-12-07T18:00:00Z",
  },
];

describe("the audit log", () => {
  it("shows who changed what, the entity linked, and the change as a diff", async () => {
    fakeFetch(() => json({ items: ROWS, next_cursor: null }));
    renderAt(<AuditPage />, { path: "/audit" });
    const table = await screen.findByRole("table", { name: "Audit log" });
    expect(within(table).getByRole("link", { name: "host 3" })).toHaveAttribute("href", "/catalogue/hosts/3");
    expect(within(table).getByRole("link", { name: "connection solusvm2" })).toHaveAttribute(
      "href",
      "/connections/solusvm2",
    );
    expect(within(table).getByLabelText("state was")).toHaveTextContent("active");
    expect(within(table).getByLabelText("state now")).toHaveTextContent("quarantined");
    const line = (text: string) => (_: string, el: Element | null) => el?.tagName === "P" && el.textContent === text;
    expect(within(table).getByText(line('credentials_set: ["api_token"]'))).toBeInTheDocument();
    expect(within(table).getByText(line("base_url: http://panel.test/api"))).toBeInTheDocument();
    expect(within(table).getByText("token")).toBeInTheDocument();
    expect(within(table).getByText("user")).toBeInTheDocument();
    expect(within(table).queryByRole("link", { name: /^user/ })).toBeNull();
  });

  it("asks for the filters in the address and ignores an unknown entity kind", async () => {
    const calls = fakeFetch(() => json({ items: [], next_cursor: null }));
    renderAt(<AuditPage />, { path: "/audit?entity=host&entity_id=3&actor=olga" });
    expect(await screen.findByText("No changes match.")).toBeInTheDocument();
    const asked = new URL(calls[0]!.url).searchParams;
    expect([asked.get("entity"), asked.get("entity_id"), asked.get("actor")]).toEqual(["host", "3", "olga"]);
    expect(screen.getByRole("textbox", { name: "Actor" })).toHaveValue("olga");

    const more = fakeFetch(() => json({ items: [], next_cursor: null }));
    renderAt(<AuditPage />, { path: "/audit?entity=spaceship" });
    await waitFor(() => expect(more).toHaveLength(1));
    expect(new URL(more[0]!.url).searchParams.has("entity")).toBe(false);
  });

  it("filters by an actor typed in", async () => {
    const calls = fakeFetch(() => json({ items: ROWS, next_cursor: 9 }));
    renderAt(<AuditPage />, { path: "/audit?entity=host" });
    await screen.findByRole("table", { name: "Audit log" });
    await userEvent.type(screen.getByRole("textbox", { name: "Actor" }), "olga{Enter}");
    await waitFor(() => expect(calls).toHaveLength(2));
    const asked = new URL(calls[1]!.url).searchParams;
    expect([asked.get("entity"), asked.get("actor")]).toEqual(["host", "olga"]);
  });

  it("says when nothing is recorded, and shows the API's error", async () => {
    fakeFetch(() => json({ items: [], next_cursor: null }));
    const { unmount } = renderAt(<AuditPage />, { path: "/audit" });
    expect(await screen.findByText("No changes recorded yet.")).toBeInTheDocument();
    unmount();
    fakeFetch(() => apiError(403, "HTTPError", "not allowed"));
    renderAt(<AuditPage />, { path: "/audit" });
    expect(await screen.findByRole("alert")).toHaveTextContent("not allowed");
  });

  it("reads {from, to} as both sides of a change and anything else as a value", () => {
    expect(fieldChanges({ role: { from: "viewer", to: "admin" }, code: "x1", limits: { from: 1 } })).toEqual([
      { field: "role", from: "viewer", to: "admin", both: true },
      { field: "code", to: "x1", both: false },
      { field: "limits", to: { from: 1 }, both: false },
    ]);
    expect(entityPath("plugin", "solusvm2@3")).toBe("/plugins/solusvm2");
    expect(entityPath("location", "1")).toBeUndefined();
    expect(entityPath("run", "2", { order_id: 7, state: "queued" })).toBe("/runs?order_id=7");
    expect(entityPath("run", "2", {})).toBeUndefined();
  });
});
