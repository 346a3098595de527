/** Runs, newest first, filtered by state, kind (or action verb), phase and order, all kept in
 * the URL (`/runs?kind=provision&phase=network&state=failed`). */
import { Anchor, SegmentedControl, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, type Schemas, unwrap } from "../../api/client";
import { type Column, ListPage, SelectFilter, TextFilter, oneOf, useFilters } from "../../components/ListPage";
import { useCursor } from "../../components/Pager";
import { StatusBadge } from "../../components/StatusBadge";
import { formatTime } from "../../components/time";

const STATES: Schemas["RunState"][] = ["queued", "running", "completed", "failed", "cancelled"];

const KINDS: { value: Schemas["RunKind"]; label: string }[] = [
  { value: "provision", label: "provisioning" },
  { value: "action", label: "any action" },
  ...(["suspend", "unsuspend", "terminate", "reinstall", "resize", "reset_password", "console", "stats"] as const).map(
    (verb) => ({ value: verb, label: `action: ${verb.replaceAll("_", " ")}` }),
  ),
];

const PHASES: Schemas["Phase"][] = ["billing", "allocation", "provision", "os_install", "network", "handoff", "action"];

export interface RunFilters {
  state?: Schemas["RunState"] | undefined;
  kind?: Schemas["RunKind"] | undefined;
  phase?: Schemas["Phase"] | undefined;
  order_id?: number | undefined;
}

/** A positive whole number (an id), else undefined. */
export function idOf(value: string | undefined): number | undefined {
  return value && /^[1-9]\d{0,15}$/.test(value) ? Number(value) : undefined;
}

export function useRuns(filters: RunFilters, cursor: number | undefined) {
  return useQuery({
    queryKey: ["runs", { ...filters, cursor }],
    queryFn: () => unwrap(api.GET("/api/v1/runs", { params: { query: { ...filters, cursor } } })),
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
  { header: "Kind", cell: (run) => (run.verb ? `action: ${run.verb.replaceAll("_", " ")}` : run.kind) },
  {
    header: "Service",
    cell: (run) =>
      run.service_id ? (
        <Anchor component={Link} to={`/services/${run.service_id}`}>
          Service {run.service_id}
        </Anchor>
      ) : (
        "—"
      ),
  },
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
  const chosen: RunFilters = {
    state: oneOf(STATES, filters.get("state")),
    kind: oneOf(
      KINDS.map((k) => k.value),
      filters.get("kind"),
    ),
    phase: oneOf(PHASES, filters.get("phase")),
    order_id: idOf(filters.get("order_id")),
  };
  const [cursor] = useCursor();
  const any = Object.values(chosen).some((value) => value !== undefined);
  return (
    <ListPage
      title="Runs"
      query={useRuns(chosen, cursor)}
      columns={COLUMNS}
      rowKey={(run) => run.id}
      empty={any ? "No runs match." : "No runs yet: they start when an order is paid."}
      filters={
        <>
          <TextFilter name="order_id" label="Order id" placeholder="order id" width={100} />
          <SelectFilter name="kind" label="Run kind" placeholder="any kind" data={KINDS} value={chosen.kind} width={170} />
          <SelectFilter name="phase" label="Run phase" placeholder="any phase" data={PHASES} value={chosen.phase} width={130} />
          <SegmentedControl
            aria-label="Run state"
            size="xs"
            value={chosen.state ?? "all"}
            data={["all", ...STATES]}
            onChange={(value) => filters.set("state", value === "all" ? null : value)}
          />
        </>
      }
    />
  );
}
