/** Subnets (`/catalogue/subnets`): the address pools of a location. */
import { SimpleGrid, TagsInput, TextInput } from "@mantine/core";
import type { Schemas } from "../../api/client";
import { useFilters } from "../../components/ListPage";
import { CatalogueList, RefFilter, RefSelect, useKeys } from "./CatalogueList";
import { EntityPage } from "./EntityPage";
import { defineKind } from "./kind";

export const SUBNETS = defineKind<Schemas["SubnetOut"], Schemas["SubnetIn"]>({
  things: "subnets",
  entity: "subnet",
  plural: "Subnets",
  writer: "admin",
  blank: {
    cidr: "",
    location: "",
    gateway: "",
    dns_servers: [],
    reverse_zone: null,
    kind: "addresses",
    cooldown_seconds: 3600,
  },
});

export function SubnetsPage() {
  const location = useFilters().get("location");
  return (
    <CatalogueList
      kind={SUBNETS}
      query={{ location }}
      filters={<RefFilter name="location" label="Location" choices={useKeys("locations")} />}
      empty="No subnets yet: hosts draw their services' addresses from one."
      columns={[
        { header: "Location", cell: (s) => s.location },
        { header: "Gateway", cell: (s) => s.gateway, monospace: true },
        { header: "DNS servers", cell: (s) => s.dns_servers.join(", "), monospace: true },
        { header: "Reverse zone", cell: (s) => s.reverse_zone ?? "—", monospace: true },
      ]}
    />
  );
}

export function SubnetPage() {
  return (
    <EntityPage
      kind={SUBNETS}
      render={(form) => (
        <>
          <SimpleGrid cols={2}>
            <TextInput label="CIDR" description="the network with its prefix: 203.0.113.0/24" required {...form.text("cidr")} />
            <RefSelect things="locations" label="Location" required {...form.choice("location")} />
          </SimpleGrid>
          <SimpleGrid cols={2}>
            <TextInput label="Gateway" required {...form.text("gateway")} />
            <TextInput
              label="Reverse zone"
              description="empty: derived from the network"
              {...form.text("reverse_zone", true)}
            />
          </SimpleGrid>
          <TagsInput
            label="DNS servers"
            description="1 to 8 resolvers, in order (Enter after each)"
            required
            value={form.draft.dns_servers}
            error={form.error("dns_servers")}
            onChange={(dns_servers) => form.set({ dns_servers })}
          />
        </>
      )}
    />
  );
}
