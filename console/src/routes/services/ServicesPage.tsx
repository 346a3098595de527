/** Services, newest first, with their order, state, product, plugin and host; filters in the URL. */
import { Anchor } from "@mantine/core";
import { Link } from "react-router";
import type { Schemas } from "../../api/client";
import { type Column, ListPage, SelectFilter, TextFilter, oneOf, useFilters } from "../../components/ListPage";
import { useCursor } from "../../components/Pager";
import { StatusBadge } from "../../components/StatusBadge";
import { formatTime } from "../../components/time";
import { useServices } from "./queries";

const STATES: Schemas["ServiceState"][] = [
  "allocated",
  "provisioned",
  "installed",
  "active",
  "suspended",
  "terminated",
];

type ServiceRow = Schemas["ServiceSummaryOut"];

const COLUMNS: Column<ServiceRow>[] = [
  {
    header: "Service",
    cell: (service) => (
      <Anchor component={Link} to={`/services/${service.id}`}>
        Service {service.id}
      </Anchor>
    ),
    nowrap: true,
  },
  { header: "Hostname", cell: (service) => service.hostname },
  { header: "State", cell: (service) => <StatusBadge status={service.state} /> },
  {
    header: "Order",
    cell: (service) => (
      <Anchor component={Link} to={`/orders/${service.order_id}`}>
        Order {service.order_id}
      </Anchor>
    ),
    nowrap: true,
  },
  { header: "Product", cell: (service) => service.product },
  { header: "Plugin", cell: (service) => service.plugin ?? "—", monospace: true },
  { header: "Host", cell: (service) => service.host ?? "—" },
  { header: "Updated", cell: (service) => formatTime(service.updated_at), monospace: true, nowrap: true },
];

export function ServicesPage() {
  const filters = useFilters();
  const state = oneOf(STATES, filters.get("state"));
  const [cursor] = useCursor();
  const query = useServices({
    state,
    q: filters.get("q"),
    product: filters.get("product"),
    plugin: filters.get("plugin"),
    host: filters.get("host"),
    cursor,
  });
  return (
    <ListPage
      title="Services"
      query={query}
      columns={COLUMNS}
      rowKey={(service) => service.id}
      empty={filters.any ? "No services match." : "No services yet: an order gets one when it is allocated."}
      filters={
        <>
          <TextFilter name="q" label="Search services" placeholder="hostname or id" width={150} />
          <TextFilter name="product" label="Product" placeholder="product slug" width={150} />
          <TextFilter name="plugin" label="Plugin" placeholder="plugin slug" width={150} />
          <TextFilter name="host" label="Host" placeholder="host name" width={150} />
          <SelectFilter name="state" label="Service state" placeholder="any state" data={STATES} value={state} />
        </>
      }
    />
  );
}
