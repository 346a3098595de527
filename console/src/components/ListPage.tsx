/** A list screen, the same for every kind of row: a title with its filters (kept in the URL),
 * the table of one page, its loading, empty and error states, and cursor paging.
 *
 * A screen declares its columns and filters; `useFilters` reads and writes them as query
 * parameters so every filtered view has a shareable URL (`/runs?state=failed`), and changing
 * a filter goes back to the newest page. */
import { type ComboboxData, Group, Select, Table, TextInput, Title } from "@mantine/core";
import type { UseQueryResult } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { useSearchParams } from "react-router";
import { Pager } from "./Pager";
import { Empty, QueryView } from "./States";

export interface Column<T> {
  header: string;
  cell: (row: T) => ReactNode;
  /** Keep the cell on one line (times, ids). */
  nowrap?: boolean;
  monospace?: boolean;
}

export interface Page<T> {
  items: T[];
  next_cursor?: number | null;
}

export interface Filters {
  /** A filter's value, when set. */
  get: (name: string) => string | undefined;
  /** Set (or, with null or "", clear) a filter; paging starts again from the newest. */
  set: (name: string, value: string | null) => void;
  /** Whether any of the filters is set. */
  any: boolean;
}

/** The list's filters as query parameters of the page's URL (`cursor` is not a filter). */
export function useFilters(): Filters {
  const [params, setParams] = useSearchParams();
  return {
    get: (name) => params.get(name) || undefined,
    set: (name, value) =>
      setParams((old) => {
        const copy = new URLSearchParams(old);
        copy.delete("cursor");
        if (value) copy.set(name, value);
        else copy.delete(name);
        return copy;
      }),
    any: [...params.keys()].some((key) => key !== "cursor"),
  };
}

/** `value` when it is one of `allowed`, else undefined (a hand-edited URL cannot send junk). */
export function oneOf<T extends string>(allowed: readonly T[], value: string | undefined): T | undefined {
  return allowed.find((candidate) => candidate === value);
}

/** One table of rows under a label (its accessible name). */
export function ListTable<T>({
  label,
  columns,
  rows,
  rowKey,
}: {
  label: string;
  columns: Column<T>[];
  rows: T[];
  rowKey: (row: T) => string | number;
}) {
  return (
    <Table striped highlightOnHover aria-label={label}>
      <Table.Thead>
        <Table.Tr>
          {columns.map((column) => (
            <Table.Th key={column.header}>{column.header}</Table.Th>
          ))}
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {rows.map((row) => (
          <Table.Tr key={rowKey(row)}>
            {columns.map((column) => (
              <Table.Td
                key={column.header}
                ff={column.monospace ? "monospace" : undefined}
                style={column.nowrap ? { whiteSpace: "nowrap" } : undefined}
              >
                {column.cell(row)}
              </Table.Td>
            ))}
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

/** A titled, filtered, paged list of the rows one query answers. */
export function ListPage<T>({
  title,
  label,
  filters,
  actions,
  query,
  columns,
  rowKey,
  empty,
}: {
  title: string;
  /** The table's accessible name (defaults to the title). */
  label?: string;
  /** The filter inputs, shown beside the title. */
  filters?: ReactNode;
  /** Buttons beside the filters ("New location"). */
  actions?: ReactNode;
  query: UseQueryResult<Page<T>>;
  columns: Column<T>[];
  rowKey: (row: T) => string | number;
  /** What an empty page says. */
  empty: ReactNode;
}) {
  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={2}>{title}</Title>
        <Group gap="xs">
          {filters}
          {actions}
        </Group>
      </Group>
      <QueryView query={query} label={`Loading ${title.toLowerCase()}`}>
        {(page) =>
          page.items.length === 0 ? (
            <Empty>{empty}</Empty>
          ) : (
            <>
              <ListTable label={label ?? title} columns={columns} rows={page.items} rowKey={rowKey} />
              <Pager nextCursor={page.next_cursor} />
            </>
          )
        }
      </QueryView>
    </>
  );
}

/** What every filter input says about itself: the URL parameter it sets, and its label. */
interface FilterProps {
  name: string;
  label: string;
  placeholder: string;
  width?: number;
}

const look = ({ label, placeholder, width = 140 }: FilterProps) =>
  ({ "aria-label": label, placeholder, size: "xs", w: width }) as const;

/** A text filter, applied on Enter; the box shows the URL's value (a new key when it changes). */
export function TextFilter(props: FilterProps) {
  const filters = useFilters();
  const value = filters.get(props.name) ?? "";
  return (
    <TextInput
      {...look(props)}
      key={value}
      defaultValue={value}
      onKeyDown={(e) => {
        if (e.key === "Enter") filters.set(props.name, e.currentTarget.value.trim() || null);
      }}
    />
  );
}

/** A choice filter that may be cleared; `value` is the checked value (`oneOf`) or undefined. */
export function SelectFilter(props: FilterProps & { data: ComboboxData; value: string | undefined }) {
  const filters = useFilters();
  return (
    <Select
      {...look(props)}
      clearable
      data={props.data}
      value={props.value ?? null}
      onChange={(next) => filters.set(props.name, next)}
    />
  );
}
