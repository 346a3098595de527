/** One labelled value in a two-column table of a record's fields. */
import { Table } from "@mantine/core";
import type { ReactNode } from "react";

export function FieldRow({ name, children }: { name: string; children: ReactNode }) {
  return (
    <Table.Tr>
      <Table.Th w={140} fw={500} c="dimmed" scope="row">
        {name}
      </Table.Th>
      <Table.Td>{children}</Table.Td>
    </Table.Tr>
  );
}
