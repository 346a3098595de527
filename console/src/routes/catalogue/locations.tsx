/** Locations (`/catalogue/locations`): where hosts stand and products are sold. */
import { SimpleGrid, TextInput } from "@mantine/core";
import type { Schemas } from "../../api/client";
import { CatalogueList } from "./CatalogueList";
import { EntityPage } from "./EntityPage";
import { defineKind } from "./kind";

export const LOCATIONS = defineKind<Schemas["LocationOut"], Schemas["LocationIn"]>({
  things: "locations",
  entity: "location",
  plural: "Locations",
  writer: "admin",
  blank: { code: "", name: "" },
});

export function LocationsPage() {
  return (
    <CatalogueList
      kind={LOCATIONS}
      empty="No locations yet: a location holds subnets, hosts and products."
      columns={[{ header: "Name", cell: (l) => l.name }]}
    />
  );
}

export function LocationPage() {
  return (
    <EntityPage
      kind={LOCATIONS}
      render={(form) => (
        <SimpleGrid cols={2}>
          <TextInput label="Code" description="letters, digits, . _ -" required {...form.text("code")} />
          <TextInput label="Name" required {...form.text("name")} />
        </SimpleGrid>
      )}
    />
  );
}
