/** The dashboard, the console's landing page: orders by state, provisioning runs by phase and
 * bucket, and the alarm list, each count and alarm a link to what it counts. Kept current by the
 * API's event stream (the `["dashboard"]` query is invalidated by every order, run, service and
 * delivery event): no refresh button, no polling. */
import { Anchor, Badge, Group, Paper, Progress, SimpleGrid, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, type Schemas, unwrap } from "../../api/client";
import { type Column, ListTable } from "../../components/ListPage";
import { Empty, QueryView } from "../../components/States";
import { colourOf } from "../../components/StatusBadge";
import { formatTime } from "../../components/time";

type Dashboard = Schemas["DashboardOut"];
type Bucket = "running" | "waiting" | "failed" | "parked";

export const BUCKETS: { bucket: Bucket; state: Schemas["RunState"] }[] = [
  { bucket: "running", state: "running" },
  // The runs list has no bucket filter: waiting and parked runs are both queued; the wait
  // reason in the list tells a parked run ("no capacity: ...") from a waiting one.
  { bucket: "waiting", state: "queued" },
  { bucket: "failed", state: "failed" },
  { bucket: "parked", state: "queued" },
];

export function useDashboard() {
  return useQuery({
    queryKey: ["dashboard"],
    queryFn: () => unwrap(api.GET("/api/v1/dashboard")),
  });
}

const words = (text: string) => text.replaceAll("_", " ");

/** The console's page for what an alarm links to, and its link text. */
export function alarmTarget(link: Schemas["LinkOut"]): { to: string; label: string } | undefined {
  switch (link.kind) {
    case "order":
      return { to: `/orders/${link.id}`, label: `Order ${link.id}` };
    case "delivery":
      return { to: `/deliveries/${link.id}`, label: `Delivery ${link.id}` };
    case "host":
      return { to: `/catalogue/hosts/${link.id}`, label: `Host ${link.id}` };
    default:
      return undefined;
  }
}

function OrderStates({ states }: { states: Dashboard["states"] }) {
  return (
    <section aria-labelledby="dashboard-orders">
      <Title order={3} size="h5" mb="xs" id="dashboard-orders">
        Orders by state
      </Title>
      <SimpleGrid cols={{ base: 3, md: 6 }} spacing="xs">
        {states.map(({ state, count }) => (
          <Paper key={state} withBorder p="sm" radius="sm">
            <Text size="xs" c="dimmed" tt="uppercase">
              {words(state)}
            </Text>
            <Anchor
              component={Link}
              to={`/orders?state=${state}`}
              fz="xl"
              fw={700}
              c={count > 0 ? colourOf(state) : "dimmed"}
              aria-label={`${count} ${words(state)} orders`}
            >
              {count}
            </Anchor>
          </Paper>
        ))}
      </SimpleGrid>
    </section>
  );
}

function RunPhases({ phases }: { phases: Dashboard["phases"] }) {
  const total = (p: Dashboard["phases"][number]) => BUCKETS.reduce((sum, { bucket }) => sum + p[bucket], 0);
  const widest = Math.max(1, ...phases.map(total));
  return (
    <section aria-labelledby="dashboard-runs">
      <Title order={3} size="h5" mb="xs" id="dashboard-runs">
        Provisioning runs by phase
      </Title>
      <Table withTableBorder aria-labelledby="dashboard-runs" verticalSpacing={4}>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Phase</Table.Th>
            {BUCKETS.map(({ bucket }) => (
              <Table.Th key={bucket} ta="right">
                {bucket}
              </Table.Th>
            ))}
            <Table.Th w="35%" aria-label="Share" />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {phases.map((p) => (
            <Table.Tr key={p.phase}>
              <Table.Td>{words(p.phase)}</Table.Td>
              {BUCKETS.map(({ bucket, state }) => (
                <Table.Td key={bucket} ta="right" ff="monospace">
                  {p[bucket] > 0 ? (
                    <Anchor
                      component={Link}
                      to={`/runs?kind=provision&phase=${p.phase}&state=${state}`}
                      c={colourOf(bucket)}
                      fw={700}
                      aria-label={`${p[bucket]} ${bucket} at ${words(p.phase)}`}
                    >
                      {p[bucket]}
                    </Anchor>
                  ) : (
                    <Text span c="dimmed" aria-label={`0 ${bucket} at ${words(p.phase)}`}>
                      0
                    </Text>
                  )}
                </Table.Td>
              ))}
              <Table.Td>
                <Progress.Root size="md" aria-hidden>
                  {BUCKETS.map(({ bucket }) => (
                    <Progress.Section key={bucket} value={(100 * p[bucket]) / widest} color={colourOf(bucket)} />
                  ))}
                </Progress.Root>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </section>
  );
}

const ALARM_COLUMNS: Column<Schemas["AlarmOut"]>[] = [
  {
    header: "Kind",
    nowrap: true,
    cell: (alarm) => (
      <Badge color="red" variant="light" radius="sm">
        {words(alarm.kind)}
      </Badge>
    ),
  },
  { header: "What", cell: (alarm) => <Text size="sm">{alarm.message}</Text> },
  { header: "Since", cell: (alarm) => formatTime(alarm.since), monospace: true, nowrap: true },
  {
    header: "Open",
    nowrap: true,
    cell: (alarm) => {
      const target = alarmTarget(alarm.link);
      return target ? (
        <Anchor component={Link} to={target.to}>
          {target.label}
        </Anchor>
      ) : (
        `${alarm.link.kind} ${alarm.link.id}`
      );
    },
  },
];

function Alarms({ board }: { board: Dashboard }) {
  const counted = board.alarm_counts.filter((c) => c.count > 0);
  const total = counted.reduce((sum, c) => sum + c.count, 0);
  return (
    <section aria-labelledby="dashboard-alarms">
      <Group mb="xs" gap="xs">
        <Title order={3} size="h5" id="dashboard-alarms">
          Alarms
        </Title>
        {counted.map((c) => (
          <Badge key={c.kind} color="red" variant="light" aria-label={`${c.count} ${words(c.kind)}`}>
            {words(c.kind)}: {c.count}
          </Badge>
        ))}
      </Group>
      {board.alarms.length === 0 ? (
        <Empty>No alarms: paid orders are on time, no delivery was refused, no host is quarantined.</Empty>
      ) : (
        <ListTable
          label="Alarms"
          columns={ALARM_COLUMNS}
          rows={board.alarms}
          rowKey={(alarm) => `${alarm.kind}-${alarm.link.kind}-${alarm.link.id}`}
        />
      )}
      {total > board.alarms.length && (
        <Text size="xs" c="dimmed" mt="xs">
          Showing {board.alarms.length} of {total} alarms.
        </Text>
      )}
    </section>
  );
}

export function DashboardPage() {
  const query = useDashboard();
  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={2}>Dashboard</Title>
        {query.data && (
          <Text size="xs" c="dimmed" aria-label="As of">
            live · as of {formatTime(query.data.now)}
          </Text>
        )}
      </Group>
      <QueryView query={query} label="Loading the dashboard">
        {(board) => (
          <Stack gap="xl">
            <OrderStates states={board.states} />
            {board.states.every((s) => s.count === 0) && <Empty>No orders yet: they appear here once placed.</Empty>}
            <RunPhases phases={board.phases} />
            <Alarms board={board} />
          </Stack>
        )}
      </QueryView>
    </>
  );
}
