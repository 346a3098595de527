/**
 * The catalogue's six kinds at the API, the same five routes each (`/api/v1/<things>`: list,
 * get, create, change, delete): one description per kind and the queries every screen shares.
 *
 * A kind's types come from the generated client (`Schemas["HostOut"]`, `Schemas["HostIn"]`);
 * the calls go through the typed client with the kind's path, so one set of hooks serves all six.
 */
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { api, type Schemas, unwrap } from "../../api/client";
import type { Role } from "../../api/auth";

export type Things = "locations" | "subnets" | "hosts" | "images" | "products" | "customers";

/** One kind of catalogue entry: its routes, its names, who may write it, its blank form. */
export interface Kind<Out extends { id: number }, In extends object> {
  things: Things;
  /** The audit log's entity and the singular in messages (`host`). */
  entity: string;
  /** The list's title (`Hosts`). */
  plural: string;
  /** The role the API requires to create, change and delete (tests/integration/test_api_roles.py). */
  writer: Role;
  /** The natural key a row is known by (`kvm-fra1-01`). */
  label: (row: Out) => string;
  /** A new entry's form. */
  blank: In;
  /** The form of an existing entry: its create body's fields. */
  fromRow: (row: Out) => In;
}

/** The field each kind's entries are known by, and named by in other entries' bodies. */
export const NATURAL_KEY: Record<Things, string> = {
  locations: "code",
  subnets: "cidr",
  hosts: "name",
  images: "slug",
  products: "slug",
  customers: "email",
};
export type Filters = Record<string, string | number | undefined>;

export interface ListOf<Out> {
  items: Out[];
  next_cursor: number | null;
}

// The typed client knows each path; one kind's paths stand for all six (same routes, same shapes).
const collection = (kind: { things: Things }) => `/api/v1/${kind.things}` as "/api/v1/locations";
const item = (kind: { things: Things }) => `/api/v1/${kind.things}/{entry_id}` as "/api/v1/locations/{entry_id}";
type AsBody = Schemas["LocationIn"];

/** A kind whose entries are known by their `NATURAL_KEY` and whose form is its create body. */
export function defineKind<Out extends { id: number }, In extends object>(
  kind: Omit<Kind<Out, In>, "label" | "fromRow">,
): Kind<Out, In> {
  const key = NATURAL_KEY[kind.things];
  return {
    ...kind,
    label: (row) => String((row as Record<string, unknown>)[key]),
    fromRow: (row) => {
      const stored = row as Record<string, unknown>;
      const blank = kind.blank as Record<string, unknown>;
      return Object.fromEntries(
        Object.keys(blank).map((name) => [name, name in stored ? stored[name] : blank[name]]),
      ) as In;
    },
  };
}

export const catalogueKey = (things: Things) => ["catalogue", things] as const;

/** One page of a kind's entries, `filters` as the API's query parameters. */
export function useEntries<Out>(kind: { things: Things }, filters: Filters = {}) {
  return useQuery({
    queryKey: [...catalogueKey(kind.things), "list", filters],
    queryFn: async () =>
      (await unwrap(api.GET(collection(kind), { params: { query: filters as never } }))) as unknown as ListOf<Out>,
  });
}

/** One entry (none asked for while `id` is undefined: a new entry's page). */
export function useEntry<Out>(kind: { things: Things }, id: number | undefined) {
  return useQuery({
    queryKey: [...catalogueKey(kind.things), "one", id],
    enabled: id !== undefined,
    queryFn: async () =>
      (await unwrap(api.GET(item(kind), { params: { path: { entry_id: id ?? 0 } } }))) as unknown as Out,
  });
}

function useRefresh(kind: { things: Things }) {
  const client = useQueryClient();
  return () =>
    Promise.all([
      client.invalidateQueries({ queryKey: catalogueKey(kind.things) }),
      client.invalidateQueries({ queryKey: ["audit"] }),
    ]);
}

/** Create (`id` undefined) or change an entry; a change sends only the fields given. */
export function useSaveEntry<Out>(kind: { things: Things }, id: number | undefined) {
  const refresh = useRefresh(kind);
  return useMutation({
    mutationFn: async (body: object) =>
      (await unwrap(
        id === undefined
          ? api.POST(collection(kind), { body: body as AsBody })
          : api.PATCH(item(kind), { params: { path: { entry_id: id } }, body: body as AsBody }),
      )) as unknown as Out,
    onSuccess: refresh,
  });
}

/** Delete an entry (the API answers 409 naming what uses it). */
export function useDeleteEntry(kind: { things: Things }) {
  const refresh = useRefresh(kind);
  return useMutation({
    mutationFn: (id: number) => unwrap(api.DELETE(item(kind), { params: { path: { entry_id: id } } })),
    onSuccess: refresh,
  });
}

/** What the audit log says about one entry, newest first. */
export function useHistory(entity: string, id: number) {
  return useQuery({
    queryKey: ["audit", { entity, id }],
    queryFn: () =>
      unwrap(api.GET("/api/v1/audit", { params: { query: { entity, entity_id: String(id), limit: 100 } } })),
  });
}

/** The fields of `draft` that differ from `saved` (what a PATCH sends). */
export function changed(saved: object, draft: object): Record<string, unknown> {
  const before = saved as Record<string, unknown>;
  return Object.fromEntries(
    Object.entries(draft).filter(([name, value]) => JSON.stringify(value) !== JSON.stringify(before[name])),
  );
}
