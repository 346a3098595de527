/** Services, newest first, with their order, state, product, plugin and host; filters in the URL. */
import { Anchor, Select, TextInput } from "@mantine/core";
import { Link } from "react-router";
import type { Schemas } from "../../api/client";
import { type Column, ListPage, oneOf, useFilters } from "../../components/ListPage";
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

/** A text filter applied on Enter (so typing does not fetch on every key). */
function TextFilter({ name, label, placeholder }: { name: string; label: string; placeholder: string }) {
  const filters = useFilters();
  return (
    <TextInput
      aria-label={label}
      placeholder={placeholder}
      size="xs"
      w={150}
      defaultValue={filters.get(name) ?? ""}
      onKeyDown={(e) => {
        if (e.key === "Enter") filters.set(name, e.currentTarget.value.trim() || null);
      }}
    />
  );
}

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
          <TextFilter name="q" label="Search services" placeholder="hostname or id" />
          <TextFilter name="product" label="Product" placeholder="product slug" />
          <TextFilter name="plugin" label="Plugin" placeholder="plugin slug" />
          <TextFilter name="host" label="Host" placeholder="host name" />
          <Select
            aria-label="Service state"
            placeholder="any state"
            size="xs"
            w={140}
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
