/** The audit log: who changed what, newest first, filtered by entity kind, entity id and actor
 * (kept in the URL: `/audit?entity=host&entity_id=3`). Each change reads as a small diff; the
 * API has already left secrets out (only their names appear), and the screen shows no more. */
import { Anchor, Badge, Code, Group, Stack, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { Link } from "react-router";
import { api, type Schemas, unwrap } from "../../api/client";
import { type Column, ListPage, SelectFilter, TextFilter, oneOf, useFilters } from "../../components/ListPage";
import { useCursor } from "../../components/Pager";
import { formatTime } from "../../components/time";

/** The kinds of entity the API audits (`<entity>.<verb>` actions). */
export const ENTITIES = [
  "order",
  "run",
  "service",
  "connection",
  "plugin",
  "location",
  "host",
  "subnet",
  "image",
  "product",
  "customer",
  "user",
  "api_token",
] as const;

/** Actors that are not a user: the installation's API token and the server's own tools. */
const NOT_A_USER: Record<string, string> = {
  "installation-token": "token",
  cli: "command line",
  seed: "seed",
};

type Audit = Schemas["AuditOut"];

/** The console's page for an audited entity, where one exists (a run: its order's runs, when
 * the row names the order). */
export function entityPath(
  entity: string,
  id: string | null | undefined,
  changes: Audit["changes"] = {},
): string | undefined {
  if (!id) return undefined;
  const path = encodeURIComponent(id);
  switch (entity) {
    case "order":
      return `/orders/${path}`;
    case "run":
      return typeof changes.order_id === "number" ? `/runs?order_id=${changes.order_id}` : undefined;
    case "service":
      return `/services/${path}`;
    case "connection":
      return `/connections/${path}`;
    case "plugin": // `slug@version`
      return `/plugins/${encodeURIComponent(id.split("@")[0] ?? id)}`;
    case "host":
      return `/catalogue/hosts/${path}`;
    default:
      return undefined;
  }
}

/** One changed field: `{from, to}` when the audit row recorded both sides, else its value. */
export type FieldChange = { field: string; from?: unknown; to: unknown; both: boolean };

/** A row's changes as a list of fields, in the order recorded. */
export function fieldChanges(changes: Audit["changes"]): FieldChange[] {
  return Object.entries(changes).map(([field, value]) => {
    if (value && typeof value === "object" && !Array.isArray(value)) {
      const pair = value as Record<string, unknown>;
      const keys = Object.keys(pair);
      if (keys.length === 2 && "from" in pair && "to" in pair) {
        return { field, from: pair.from, to: pair.to, both: true };
      }
    }
    return { field, to: value, both: false };
  });
}

/** A value as an operator reads it: strings bare, the rest as compact JSON. */
export function show(value: unknown): string {
  if (value === null || value === undefined) return "—";
  if (typeof value === "string") return value;
  return JSON.stringify(value);
}

function Diff({ changes }: { changes: Audit["changes"] }) {
  const fields = fieldChanges(changes);
  if (fields.length === 0) return <Text c="dimmed">—</Text>;
  return (
    <Stack gap={2}>
      {fields.map((change) => (
        <Text key={change.field} size="xs" ff="monospace" style={{ wordBreak: "break-word" }}>
          <Text span fw={700} inherit>
            {change.field}
          </Text>
          {": "}
          {change.both ? (
            <>
              <Text span c="red.8" td="line-through" inherit aria-label={`${change.field} was`}>
                {show(change.from)}
              </Text>
              {" → "}
              <Text span c="green.8" inherit aria-label={`${change.field} now`}>
                {show(change.to)}
              </Text>
            </>
          ) : (
            show(change.to)
          )}
        </Text>
      ))}
    </Stack>
  );
}

function Entity({ row }: { row: Audit }): ReactNode {
  const to = entityPath(row.entity, row.entity_id, row.changes);
  const label = row.entity_id ? `${row.entity} ${row.entity_id}` : row.entity;
  return to ? (
    <Anchor component={Link} to={to}>
      {label}
    </Anchor>
  ) : (
    label
  );
}

const COLUMNS: Column<Audit>[] = [
  { header: "When", cell: (row) => formatTime(row.created_at), monospace: true, nowrap: true },
  {
    header: "Who",
    nowrap: true,
    cell: (row) => (
      <Group gap={4} wrap="nowrap">
        <Text size="sm">{row.actor}</Text>
        {NOT_A_USER[row.actor] && (
          <Badge size="xs" variant="outline" color="gray">
            {NOT_A_USER[row.actor]}
          </Badge>
        )}
      </Group>
    ),
  },
  { header: "What", cell: (row) => <Code>{row.action}</Code>, nowrap: true },
  { header: "Entity", cell: (row) => <Entity row={row} />, nowrap: true },
  { header: "Change", cell: (row) => <Diff changes={row.changes} /> },
];

export function AuditPage() {
  const filters = useFilters();
  const entity = oneOf(ENTITIES, filters.get("entity"));
  const entity_id = filters.get("entity_id");
  const actor = filters.get("actor");
  const [cursor] = useCursor();
  const query = useQuery({
    queryKey: ["audit", { entity, entity_id, actor, cursor }],
    queryFn: () =>
      unwrap(api.GET("/api/v1/audit", { params: { query: { entity, entity_id, actor, cursor } } })),
  });
  return (
    <ListPage
      title="Audit log"
      query={query}
      columns={COLUMNS}
      rowKey={(row) => row.id}
      empty={entity || entity_id || actor ? "No changes match." : "No changes recorded yet."}
      filters={
        <>
          <SelectFilter name="entity" label="Entity kind" placeholder="any entity" data={ENTITIES} value={entity} />
          <TextFilter name="entity_id" label="Entity id" placeholder="entity id" />
          <TextFilter name="actor" label="Actor" placeholder="who (username)" />
        </>
      }
    />
  );
}
