/** Webhook deliveries: what arrived, whether it verified and why not, what it did. */
import { Anchor, Group, Select, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link, useSearchParams } from "react-router";
import { api, unwrap } from "../../api/client";
import { Pager, useCursor } from "../../components/Pager";
import { Empty, QueryView } from "../../components/States";
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

export function DeliveriesPage() {
  const [params, setParams] = useSearchParams();
  const verification = params.get("verification") ?? undefined;
  const outcome = params.get("outcome") ?? undefined;
  const [cursor] = useCursor();
  const query = useQuery({
    queryKey: ["deliveries", { verification, outcome, cursor }],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/webhook-deliveries", { params: { query: { verification, outcome, cursor } } }),
      ),
  });
  const filter = (name: string) => (value: string | null) =>
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
        <Title order={2}>Webhook deliveries</Title>
        <Group gap="xs">
          <Select
            aria-label="Verification"
            placeholder="any verification"
            size="xs"
            clearable
            data={VERIFICATIONS}
            value={verification ?? null}
            onChange={filter("verification")}
          />
          <Select
            aria-label="Outcome"
            placeholder="any outcome"
            size="xs"
            clearable
            data={OUTCOMES}
            value={outcome ?? null}
            onChange={filter("outcome")}
          />
        </Group>
      </Group>
      <QueryView query={query} label="Loading deliveries">
        {(page) =>
          page.items.length === 0 ? (
            <Empty>No webhook deliveries{verification || outcome ? " match" : " yet"}.</Empty>
          ) : (
            <>
              <Table striped highlightOnHover aria-label="Webhook deliveries">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Delivery</Table.Th>
                    <Table.Th>Received</Table.Th>
                    <Table.Th>Gateway</Table.Th>
                    <Table.Th>Event</Table.Th>
                    <Table.Th>Invoice</Table.Th>
                    <Table.Th>Verification</Table.Th>
                    <Table.Th>Outcome</Table.Th>
                    <Table.Th>Reason</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {page.items.map((d) => (
                    <Table.Tr key={d.id}>
                      <Table.Td>
                        <Anchor component={Link} to={`/deliveries/${d.id}`}>
                          #{d.id}
                        </Anchor>
                      </Table.Td>
                      <Table.Td ff="monospace">{formatTime(d.received_at)}</Table.Td>
                      <Table.Td>{d.gateway}</Table.Td>
                      <Table.Td>{d.event_type ?? "—"}</Table.Td>
                      <Table.Td>{d.invoice_id ?? "—"}</Table.Td>
                      <Table.Td>
                        <StatusBadge status={d.verification} />
                      </Table.Td>
                      <Table.Td>
                        <StatusBadge status={d.outcome ?? "pending"} />
                      </Table.Td>
                      <Table.Td>
                        <Text size="sm" lineClamp={2}>
                          {d.reason ?? ""}
                        </Text>
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
