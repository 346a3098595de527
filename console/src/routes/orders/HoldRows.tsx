/** The capacity and address an order's checkout held (reserve-then-charge), as the API says. */
import { Table, Text } from "@mantine/core";
import type { Schemas } from "../../api/client";
import { FieldRow } from "../../components/FieldRow";
import { StatusBadge } from "../../components/StatusBadge";
import { formatTime } from "../../components/time";

export function HoldRows({ hold }: { hold: Schemas["HoldOut"] | null | undefined }) {
  if (!hold) return null;
  return (
    <Table withRowBorders={false} verticalSpacing={2} mt="sm" aria-label="Checkout hold">
      <Table.Tbody>
        <FieldRow name="Checkout hold">
          <StatusBadge status={hold.state} />{" "}
          {hold.reason ? (
            <Text span size="sm" c="dimmed">
              {hold.reason}
            </Text>
          ) : null}
        </FieldRow>
        <FieldRow name="Held">
          {hold.ram_mb} MB / {hold.vcpus} vCPU / {hold.disk_gb} GB on {hold.host_name ?? `host ${hold.host_id}`}
          {hold.address ? `, ${hold.address}` : ""}
        </FieldRow>
        {hold.state === "held" ? <FieldRow name="Held until">{formatTime(hold.expires_at)}</FieldRow> : null}
      </Table.Tbody>
    </Table>
  );
}
