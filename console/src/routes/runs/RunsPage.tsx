/** Runs, newest first, filtered by state (kept in the URL: `/runs?state=failed`). */
import { Anchor, SegmentedControl, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, type Schemas, unwrap } from "../../api/client";
import { type Column, ListPage, oneOf, useFilters } from "../../components/ListPage";
import { useCursor } from "../../components/Pager";
import { StatusBadge } from "../../components/StatusBadge";
import { formatTime } from "../../components/time";

const STATES: Schemas["RunState"][] = ["queued", "running", "completed", "failed", "cancelled"];

export function useRuns(state: Schemas["RunState"] | undefined, cursor: number | undefined) {
  return useQuery({
    queryKey: ["runs", { state, cursor }],
    queryFn: () => unwrap(api.GET("/api/v1/runs", { params: { query: { state, cursor } } })),
  });
}

type Run = Schemas["RunListOut"]["items"][number];

const COLUMNS: Column<Run>[] = [
  { header: "Run", cell: (run) => run.id },
  {
    header: "Order",
    cell: (run) => (
      <Anchor component={Link} to={`/orders/${run.order_id}`}>
        Order {run.order_id}
      </Anchor>
    ),
  },
  { header: "Kind", cell: (run) => run.kind },
  { header: "State", cell: (run) => <StatusBadge status={run.state} /> },
  { header: "Phase", cell: (run) => run.phase },
  { header: "Failed attempts", cell: (run) => run.attempt },
  {
    header: "Last error",
    cell: (run) => (
      <Text size="sm" lineClamp={2}>
        {run.last_error ? String(run.last_error.message ?? "") : (run.wait_reason ?? "")}
      </Text>
    ),
  },
  { header: "Updated", cell: (run) => formatTime(run.updated_at), monospace: true, nowrap: true },
];

export function RunsPage() {
  const filters = useFilters();
  const state = oneOf(STATES, filters.get("state"));
  const [cursor] = useCursor();
  return (
    <ListPage
      title="Runs"
      query={useRuns(state, cursor)}
      columns={COLUMNS}
      rowKey={(run) => run.id}
      empty={state ? `No ${state} runs.` : "No runs yet: they start when an order is paid."}
      filters={
        <SegmentedControl
          aria-label="Run state"
          size="xs"
          value={state ?? "all"}
          data={["all", ...STATES]}
          onChange={(value) => filters.set("state", value === "all" ? null : value)}
        />
      }
    />
  );
}
