/** Orders, newest first, with where their provisioning stands; filters kept in the URL. */
import { Anchor, Button, Select, Text, TextInput } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, type Schemas, unwrap } from "../../api/client";
import { may } from "../../api/auth";
import { type Column, ListPage, oneOf, useFilters } from "../../components/ListPage";
import { useCursor } from "../../components/Pager";
import { StatusBadge } from "../../components/StatusBadge";
import { formatTime } from "../../components/time";
import { useUser } from "../../session/session";

const STATES: Schemas["OrderState"][] = [
  "awaiting_payment",
  "provisioning_pending",
  "provisioning",
  "active",
  "failed",
  "cancelled",
];

type Order = Schemas["OrderSummaryOut"];

const COLUMNS: Column<Order>[] = [
  {
    header: "Order",
    cell: (order) => (
      <Anchor component={Link} to={`/orders/${order.id}`}>
        Order {order.id}
      </Anchor>
    ),
  },
  { header: "Hostname", cell: (order) => order.hostname },
  { header: "State", cell: (order) => <StatusBadge status={order.state} /> },
  { header: "Phase", cell: (order) => order.phase ?? "—" },
  { header: "Run", cell: (order) => (order.run_state ? <StatusBadge status={order.run_state} /> : "—") },
  { header: "Product", cell: (order) => order.product },
  { header: "Customer", cell: (order) => order.customer_email },
  {
    header: "Last error",
    cell: (order) => (
      <Text size="sm" lineClamp={2} c="red.8">
        {order.last_error ?? ""}
      </Text>
    ),
  },
  { header: "Updated", cell: (order) => formatTime(order.updated_at), monospace: true, nowrap: true },
];

export function OrdersPage() {
  const filters = useFilters();
  const state = oneOf(STATES, filters.get("state"));
  const q = filters.get("q");
  const [cursor] = useCursor();
  const user = useUser();
  const query = useQuery({
    queryKey: ["orders", "list", { state, q, cursor }],
    queryFn: () => unwrap(api.GET("/api/v1/orders", { params: { query: { state, q, cursor } } })),
  });
  return (
    <ListPage
      title="Orders"
      query={query}
      columns={COLUMNS}
      rowKey={(order) => order.id}
      empty={state || q ? "No orders match." : "No orders yet."}
      actions={
        may(user, "operator") && (
          <Button component={Link} to="/orders/new" size="xs">
            New order
          </Button>
        )
      }
      filters={
        <>
          <TextInput
            aria-label="Search orders"
            placeholder="hostname or order id"
            size="xs"
            defaultValue={q ?? ""}
            onKeyDown={(e) => {
              if (e.key === "Enter") filters.set("q", e.currentTarget.value.trim() || null);
            }}
          />
          <Select
            aria-label="Order state"
            placeholder="any state"
            size="xs"
            clearable
            data={STATES}
            value={state ?? null}
            onChange={(value) => filters.set("state", value)}
          />
        </>
      }
    />
  );
}
