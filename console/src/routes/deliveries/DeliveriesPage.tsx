/** Webhook deliveries: what arrived, whether it verified and why not, what it did. */
import { Anchor, Select, Text } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link } from "react-router";
import { api, type Schemas, unwrap } from "../../api/client";
import { type Column, ListPage, useFilters } from "../../components/ListPage";
import { useCursor } from "../../components/Pager";
import { StatusBadge } from "../../components/StatusBadge";
import { formatTime } from "../../components/time";

const VERIFICATIONS = ["pending", "valid", "invalid", "unauthenticated"];
const OUTCOMES = [
  "processed",
  "duplicate",
  "ignored",
  "unknown_invoice",
  "unknown_resource",
  "rejected",
  "deferred",
  "quarantined",
];

type Delivery = Schemas["DeliveryListOut"]["items"][number];

const COLUMNS: Column<Delivery>[] = [
  {
    header: "Delivery",
    cell: (d) => (
      <Anchor component={Link} to={`/deliveries/${d.id}`}>
        #{d.id}
      </Anchor>
    ),
  },
  { header: "Received", cell: (d) => formatTime(d.received_at), monospace: true, nowrap: true },
  { header: "Gateway", cell: (d) => d.gateway },
  { header: "Event", cell: (d) => d.event_type ?? "—" },
  { header: "Invoice", cell: (d) => d.invoice_id ?? "—" },
  { header: "Verification", cell: (d) => <StatusBadge status={d.verification} /> },
  { header: "Outcome", cell: (d) => <StatusBadge status={d.outcome ?? "pending"} /> },
  {
    header: "Reason",
    cell: (d) => (
      <Text size="sm" lineClamp={2}>
        {d.reason ?? ""}
      </Text>
    ),
  },
];

export function DeliveriesPage() {
  const filters = useFilters();
  const verification = filters.get("verification");
  const outcome = filters.get("outcome");
  const [cursor] = useCursor();
  const query = useQuery({
    queryKey: ["deliveries", { verification, outcome, cursor }],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/webhook-deliveries", { params: { query: { verification, outcome, cursor } } }),
      ),
  });
  return (
    <ListPage
      title="Webhook deliveries"
      query={query}
      columns={COLUMNS}
      rowKey={(d) => d.id}
      empty={`No webhook deliveries${filters.any ? " match" : " yet"}.`}
      filters={
        <>
          <Select
            aria-label="Verification"
            placeholder="any verification"
            size="xs"
            clearable
            data={VERIFICATIONS}
            value={verification ?? null}
            onChange={(value) => filters.set("verification", value)}
          />
          <Select
            aria-label="Outcome"
            placeholder="any outcome"
            size="xs"
            clearable
            data={OUTCOMES}
            value={outcome ?? null}
            onChange={(value) => filters.set("outcome", value)}
          />
        </>
      }
    />
  );
}
