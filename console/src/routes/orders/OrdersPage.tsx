/** Orders, newest first, with where their provisioning stands; filters kept in the URL. */
import { Anchor, Group, Select, Table, Text, TextInput, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { api, type Schemas, unwrap } from "../../api/client";
import { Pager, useCursor } from "../../components/Pager";
import { Empty, QueryView } from "../../components/States";
import { StatusBadge } from "../../components/StatusBadge";
import { formatTime } from "../../components/time";

const STATES: Schemas["OrderState"][] = [
  "awaiting_payment",
  "provisioning_pending",
  "provisioning",
  "active",
  "failed",
  "cancelled",
];

export function OrdersPage() {
  const [params, setParams] = useSearchParams();
  const state = STATES.find((s) => s === params.get("state"));
  const q = params.get("q") ?? undefined;
  const [cursor] = useCursor();
  const query = useQuery({
    queryKey: ["orders", "list", { state, q, cursor }],
    queryFn: () => unwrap(api.GET("/api/v1/orders", { params: { query: { state, q, cursor } } })),
  });
  const filter = (name: string, value: string | null) =>
    setParams((old) => {
      const copy = new URLSearchParams(old);
      copy.delete("cursor");
      if (value) copy.set(name, value);
      else copy.delete(name);
      return copy;
    });
  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={2}>Orders</Title>
        <Group gap="xs">
          <TextInput
            aria-label="Search orders"
            placeholder="hostname or order id"
            size="xs"
            defaultValue={q ?? ""}
            onKeyDown={(e) => {
              if (e.key === "Enter") filter("q", e.currentTarget.value.trim() || null);
            }}
          />
          <Select
            aria-label="Order state"
            placeholder="any state"
            size="xs"
            clearable
            data={STATES}
            value={state ?? null}
            onChange={(value) => filter("state", value)}
          />
        </Group>
      </Group>
      <QueryView query={query} label="Loading orders">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>{state || q ? "No orders match." : "No orders yet."}</Empty>
          ) : (
            <>
              <Table striped highlightOnHover aria-label="Orders">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Order</Table.Th>
                    <Table.Th>Hostname</Table.Th>
                    <Table.Th>State</Table.Th>
                    <Table.Th>Phase</Table.Th>
                    <Table.Th>Run</Table.Th>
                    <Table.Th>Product</Table.Th>
                    <Table.Th>Customer</Table.Th>
                    <Table.Th>Last error</Table.Th>
                    <Table.Th>Updated</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {page.items.map((order) => (
                    <Table.Tr key={order.id}>
                      <Table.Td>
                        <Anchor component={Link} to={`/orders/${order.id}`}>
                          Order {order.id}
                        </Anchor>
                      </Table.Td>
                      <Table.Td>{order.hostname}</Table.Td>
                      <Table.Td>
                        <StatusBadge status={order.state} />
                      </Table.Td>
                      <Table.Td>{order.phase ?? "—"}</Table.Td>
                      <Table.Td>{order.run_state ? <StatusBadge status={order.run_state} /> : "—"}</Table.Td>
                      <Table.Td>{order.product}</Table.Td>
                      <Table.Td>{order.customer_email}</Table.Td>
                      <Table.Td>
                        <Text size="sm" lineClamp={2} c="red.8">
                          {order.last_error ?? ""}
                        </Text>
                      </Table.Td>
                      <Table.Td ff="monospace" style={{ whiteSpace: "nowrap" }}>
                        {formatTime(order.updated_at)}
                      </Table.Td>
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
