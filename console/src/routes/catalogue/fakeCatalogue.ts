/**
 * A fake of the catalogue API for the screens' unit tests: the six kinds' five routes over an
 * in-memory store, the audit log, plugins and connections, and a hook to answer a request the
 * way the real API refuses it (422 problems, 409 in use, 403).
 */
import { configure, screen } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { vi } from "vitest";
import { fakeFetch, json } from "../../test/fetch";

/** What the screens' tests need of jsdom and of a shared, busy machine. */
export function prepareScreens(): void {
  // jsdom does not scroll; Mantine's combobox scrolls its selected option into view.
  Element.prototype.scrollIntoView = () => {};
  configure({ asyncUtilTimeout: 5000 });
  vi.setConfig({ testTimeout: 60_000 });
}

/** Type `text` into `input` at once (key by key is slow on a busy machine). */
export async function fill(input: HTMLElement, text: string): Promise<void> {
  await userEvent.click(input);
  await userEvent.paste(text);
}

/** Pick `option` in the select named `label`. */
export async function choose(label: RegExp, option: RegExp): Promise<void> {
  await userEvent.click(screen.getByRole("combobox", { name: label }));
  // The dropdown is still in its opening transition (jsdom runs none): hidden, yet there.
  await userEvent.click(await screen.findByRole("option", { name: option, hidden: true }));
}

export type Row = Record<string, unknown> & { id: number };

export interface FakeOptions {
  role?: "viewer" | "operator" | "admin";
  /** Rows by collection (`hosts`), plus `audit`. */
  rows?: Record<string, Row[]>;
  /** An answer instead of the store's, for a request the API would refuse. */
  refuse?: (method: string, path: string, body: Record<string, unknown> | null) => Response | undefined;
}

export const PLUGINS = [
  { slug: "solusvm2", name: "SolusVM 2", serviceType: "vps", version: 2, versions: 2, source: "builtin", capabilities: {}, created_at: "2026-12-01T10:00:00Z" },
  { slug: "whm", name: "WHM", serviceType: "shared", version: 1, versions: 1, source: "builtin", capabilities: {}, created_at: "2026-12-01T10:00:00Z" },
];

const VERSIONS = [1, 2].map((version) => ({
  version,
  created_at: "2026-12-01T10:00:00Z",
  source: "builtin",
  digest: `sha256:${version}`,
}));

export const CONNECTIONS = [{ id: 1, name: "panel", type: "solusvm2", base_url: "https://panel.example.com", purpose: "production", settings: {}, secret_names: [], allowed_networks: [] }];

export function problem(status: number, code: string, message: string, problems?: { path: string; message: string }[]) {
  return json({ error: { code, message, details: problems ? { problems } : {} } }, status);
}

/** Serve the fake API; what the screens asked for is in the returned list. */
export function fakeCatalogue({ role = "admin", rows = {}, refuse }: FakeOptions = {}): Request[] {
  const store: Record<string, Row[]> = structuredClone(rows);
  let next = 100;
  return fakeFetch(async (request) => {
    const url = new URL(request.url);
    const path = url.pathname;
    const body = request.method === "POST" || request.method === "PATCH" ? ((await request.clone().json()) as Record<string, unknown>) : null;
    const refused = refuse?.(request.method, path, body);
    if (refused) return refused;
    if (path === "/api/v1/auth/me") return json({ id: 1, username: role, role });
    if (path === "/api/v1/plugins") return json({ items: PLUGINS, folder_errors: [] });
    if (/^\/api\/v1\/plugins\/[^/]+\/versions$/.test(path)) return json(VERSIONS);
    if (path === "/api/v1/connections") return json({ items: CONNECTIONS });
    if (path === "/api/v1/audit") {
      const wanted = (r: Row) => r.entity === url.searchParams.get("entity") && r.entity_id === url.searchParams.get("entity_id");
      return json({ items: (store.audit ?? []).filter(wanted), next_cursor: null });
    }
    const [, things, id] = path.match(/^\/api\/v1\/(\w+)(?:\/(\d+))?$/) ?? [];
    if (!things) return problem(404, "NotFound", path);
    const table = (store[things] ??= []);
    const found = table.find((r) => r.id === Number(id));
    if (id === undefined && request.method === "GET") {
      const filters = [...url.searchParams].filter(([k]) => !["limit", "cursor"].includes(k));
      return json({ items: table.filter((r) => filters.every(([k, v]) => String(r[k]) === v)), next_cursor: null });
    }
    if (id === undefined && request.method === "POST") {
      const row = { ...body, id: next++ };
      table.push(row);
      return json(row, 201);
    }
    if (!found) return problem(404, "NotFound", `no ${things} ${id}`);
    if (request.method === "GET") return json(found);
    if (request.method === "PATCH") return json(Object.assign(found, body));
    if (request.method === "DELETE") {
      store[things] = table.filter((r) => r !== found);
      return new Response(null, { status: 204 });
    }
    return problem(405, "HTTPError", "Method Not Allowed");
  });
}

/** The JSON bodies of the calls with `method`. */
export async function bodies(calls: Request[], method: string): Promise<Record<string, unknown>[]> {
  return Promise.all(calls.filter((c) => c.method === method).map((c) => c.json() as Promise<Record<string, unknown>>));
}
