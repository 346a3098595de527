/**
 * The list kit of the catalogue: a kind's entries as a `ListPage` (filters in the URL, paging,
 * a "New …" button for a role that may write), the filter inputs, and the selects that name
 * another entry by its natural key (a host's location, a product's image).
 */
import { Anchor, Button, SegmentedControl, Select, TextInput } from "@mantine/core";
import { type ReactNode, useState } from "react";
import { Link } from "react-router";
import { may } from "../../api/auth";
import { type Column, ListPage, oneOf, useFilters } from "../../components/ListPage";
import { useCursor } from "../../components/Pager";
import { useUser } from "../../session/session";
import { type Filters, type Kind, NATURAL_KEY, type Things, useEntries } from "./kind";

export function CatalogueList<Out extends { id: number }, In extends object>({
  kind,
  columns,
  query = {},
  filters,
  empty,
}: {
  kind: Kind<Out, In>;
  /** The columns after the first, which links each entry by its key. */
  columns: Column<Out>[];
  /** The API's filters, read from the URL (`useFilters`). */
  query?: Filters;
  filters?: ReactNode;
  empty: string;
}) {
  const [cursor] = useCursor();
  const entries = useEntries<Out>(kind, { ...query, cursor });
  const filtered = Object.values(query).some((v) => v !== undefined);
  const first: Column<Out> = {
    header: capitalKey(kind.things),
    cell: (row) => (
      <Anchor component={Link} to={`/catalogue/${kind.things}/${row.id}`}>
        {kind.label(row)}
      </Anchor>
    ),
  };
  return (
    <ListPage
      title={kind.plural}
      query={entries}
      columns={[first, ...columns]}
      rowKey={(row) => row.id}
      empty={filtered ? `No ${kind.plural.toLowerCase()} match these filters.` : empty}
      filters={filters}
      actions={
        may(useUser(), kind.writer) && (
          <Button component={Link} to={`/catalogue/${kind.things}/new`} size="xs">
            New {kind.entity}
          </Button>
        )
      }
    />
  );
}

function capitalKey(things: Things): string {
  const key = NATURAL_KEY[things];
  return key.charAt(0).toUpperCase() + key.slice(1);
}

/** A filter choosing one of `values` (or all), kept in the URL under `name`. */
export function ChoiceFilter<T extends string>({
  name,
  label,
  values,
}: {
  name: string;
  label: string;
  values: readonly T[];
}) {
  const filters = useFilters();
  return (
    <SegmentedControl
      aria-label={label}
      size="xs"
      value={oneOf(values, filters.get(name)) ?? "all"}
      data={["all", ...values]}
      onChange={(value) => filters.set(name, value === "all" ? null : value)}
    />
  );
}

/** `value` of the URL's filter `name` when it is one of `values`. */
export function useChoice<T extends string>(name: string, values: readonly T[]): T | undefined {
  return oneOf(values, useFilters().get(name));
}

/** A filter naming one of `choices` (`?location=fra1`). */
export function RefFilter({ name, label, choices }: { name: string; label: string; choices: Choice[] }) {
  const filters = useFilters();
  const value = filters.get(name) ?? null;
  return (
    <Select
      aria-label={label}
      placeholder={`Any ${label.toLowerCase()}`}
      size="xs"
      w={180}
      clearable
      searchable
      data={withValue(choices, value)}
      value={value}
      onChange={(v) => filters.set(name, v)}
    />
  );
}

/** A filter matching a typed value, applied on Enter (`?email=`). */
export function TextFilter({ name, label }: { name: string; label: string }) {
  const filters = useFilters();
  const [typed, setTyped] = useState(filters.get(name) ?? "");
  return (
    <TextInput
      aria-label={label}
      placeholder={`${label} (Enter)`}
      size="xs"
      w={220}
      value={typed}
      onChange={(e) => setTyped(e.currentTarget.value)}
      onKeyDown={(e) => {
        if (e.key === "Enter") filters.set(name, typed.trim() || null);
      }}
    />
  );
}

export interface Choice {
  value: string;
  label: string;
}

/** The keys of `things`' entries (the first 500), as select options (`fra1 — Frankfurt 1`). */
export function useKeys(things: Things, filters: Filters = {}): Choice[] {
  const entries = useEntries<Record<string, unknown>>({ things }, { limit: 500, ...filters });
  return (entries.data?.items ?? []).map((row) => {
    const key = String(row[NATURAL_KEY[things]]);
    return { value: key, label: typeof row.name === "string" && row.name !== key ? `${key} — ${row.name}` : key };
  });
}

/** `choices`, with `value` among them (a stored reference shows before the list loads). */
export function withValue(choices: Choice[], value: string | null): Choice[] {
  if (!value || choices.some((c) => c.value === value)) return choices;
  return [{ value, label: value }, ...choices];
}

/** A select naming an entry of `things` by its key, for a form field. */
export function RefSelect({
  things,
  filters,
  value,
  ...props
}: {
  things: Things;
  filters?: Filters;
  label: string;
  value: string | null;
  onChange: (value: string | null) => void;
  error?: string | undefined;
  required?: boolean;
  clearable?: boolean;
  description?: string;
}) {
  return <Select searchable data={withValue(useKeys(things, filters), value)} value={value} {...props} />;
}
