/** Customers (`/catalogue/customers`): who orders; operators may write them too. */
import { TextInput } from "@mantine/core";
import type { Schemas } from "../../api/client";
import { useFilters } from "../../components/ListPage";
import { CatalogueList, TextFilter } from "./CatalogueList";
import { EntityPage } from "./EntityPage";
import { defineKind } from "./kind";

export const CUSTOMERS = defineKind<Schemas["CustomerOut"], Schemas["fluxbilling__api__catalogue__CustomerIn"]>({
  things: "customers",
  entity: "customer",
  plural: "Customers",
  writer: "operator",
  blank: { email: "", name: "" },
});

export function CustomersPage() {
  const email = useFilters().get("email");
  return (
    <CatalogueList
      kind={CUSTOMERS}
      query={{ email }}
      filters={<TextFilter name="email" label="Email" />}
      empty="No customers yet: orders create them on first use."
      columns={[{ header: "Name", cell: (c) => c.name }]}
    />
  );
}

export function CustomerPage() {
  return (
    <EntityPage
      kind={CUSTOMERS}
      render={(form) => (
        <>
          <TextInput label="Email" description="stored lower case" required type="email" {...form.text("email")} />
          <TextInput label="Name" required {...form.text("name")} />
        </>
      )}
    />
  );
}
