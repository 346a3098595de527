/** Orders, newest first, with where their provisioning stands. */
import { Anchor, Table, Title } from "@mantine/core";
import { Link } from "react-router";
import { Pager, useCursor } from "../../components/Pager";
import { Empty, QueryView } from "../../components/States";
import { StatusBadge } from "../../components/StatusBadge";
import { formatTime } from "../../components/time";
import { useRuns } from "../runs/RunsPage";

export function OrdersPage() {
  const [cursor] = useCursor();
  const query = useRuns(undefined, cursor);
  return (
    <>
      <Title order={2} mb="md">
        Orders
      </Title>
      <QueryView query={query} label="Loading orders">
        {(page) => {
          const provisioning = page.items.filter((run) => run.kind === "provision");
          return provisioning.length === 0 ? (
            <Empty>No paid orders yet: an order appears here once its invoice is paid.</Empty>
          ) : (
            <>
              <Table striped highlightOnHover aria-label="Orders">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Order</Table.Th>
                    <Table.Th>Provisioning</Table.Th>
                    <Table.Th>Phase</Table.Th>
                    <Table.Th>Updated</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {provisioning.map((run) => (
                    <Table.Tr key={run.id}>
                      <Table.Td>
                        <Anchor component={Link} to={`/orders/${run.order_id}`}>
                          Order {run.order_id}
                        </Anchor>
                      </Table.Td>
                      <Table.Td>
                        <StatusBadge status={run.state} />
                      </Table.Td>
                      <Table.Td>{run.phase}</Table.Td>
                      <Table.Td ff="monospace">{formatTime(run.updated_at)}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
              <Pager nextCursor={page.next_cursor} />
            </>
          );
        }}
      </QueryView>
    </>
  );
}
