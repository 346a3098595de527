/** Runs, newest first, filtered by state (kept in the URL: `/runs?state=failed`). */
import { Anchor, Group, SegmentedControl, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { api, type Schemas, unwrap } from "../../api/client";
import { Pager, useCursor } from "../../components/Pager";
import { Empty, QueryView } from "../../components/States";
import { StatusBadge } from "../../components/StatusBadge";
import { formatTime } from "../../components/time";

const STATES: Schemas["RunState"][] = ["queued", "running", "completed", "failed", "cancelled"];

export function useRuns(state: Schemas["RunState"] | undefined, cursor: number | undefined) {
  return useQuery({
    queryKey: ["runs", { state, cursor }],
    queryFn: () => unwrap(api.GET("/api/v1/runs", { params: { query: { state, cursor } } })),
  });
}

export function RunsPage() {
  const [params, setParams] = useSearchParams();
  const raw = params.get("state");
  const state = STATES.find((s) => s === raw);
  const [cursor] = useCursor();
  const query = useRuns(state, cursor);
  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={2}>Runs</Title>
        <SegmentedControl
          aria-label="Run state"
          size="xs"
          value={state ?? "all"}
          data={["all", ...STATES]}
          onChange={(value) => setParams(value === "all" ? {} : { state: value })}
        />
      </Group>
      <QueryView query={query} label="Loading runs">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>{state ? `No ${state} runs.` : "No runs yet: they start when an order is paid."}</Empty>
          ) : (
            <>
              <Table striped highlightOnHover aria-label="Runs">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Run</Table.Th>
                    <Table.Th>Order</Table.Th>
                    <Table.Th>Kind</Table.Th>
                    <Table.Th>State</Table.Th>
                    <Table.Th>Phase</Table.Th>
                    <Table.Th>Failed attempts</Table.Th>
                    <Table.Th>Last error</Table.Th>
                    <Table.Th>Updated</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {page.items.map((run) => (
                    <Table.Tr key={run.id}>
                      <Table.Td>{run.id}</Table.Td>
                      <Table.Td>
                        <Anchor component={Link} to={`/orders/${run.order_id}`}>
                          Order {run.order_id}
                        </Anchor>
                      </Table.Td>
                      <Table.Td>{run.kind}</Table.Td>
                      <Table.Td>
                        <StatusBadge status={run.state} />
                      </Table.Td>
                      <Table.Td>{run.phase}</Table.Td>
                      <Table.Td>{run.attempt}</Table.Td>
                      <Table.Td>
                        <Text size="sm" lineClamp={2}>
                          {run.last_error ? String(run.last_error.message ?? "") : run.wait_reason ?? ""}
                        </Text>
                      </Table.Td>
                      <Table.Td ff="monospace">{formatTime(run.updated_at)}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
              <Pager nextCursor={page.next_cursor} />
            </>
          )
        }
      </QueryView>
    </>
  );
}
