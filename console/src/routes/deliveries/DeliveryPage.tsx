/** One webhook delivery: verification and its reason, masked headers, the body as kept. */
import { Card, Group, Stack, Table, Text, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useParams } from "react-router";
import { api, unwrap } from "../../api/client";
import { may } from "../../api/auth";
import { ConfirmButton } from "../../components/ConfirmButton";
import { FieldRow } from "../../components/FieldRow";
import { JsonBlock } from "../../components/JsonBlock";
import { ErrorAlert, QueryView } from "../../components/States";
import { StatusBadge } from "../../components/StatusBadge";
import { formatTime } from "../../components/time";
import { useUser } from "../../session/session";

export function DeliveryPage() {
  const id = Number(useParams().deliveryId);
  const client = useQueryClient();
  const user = useUser();
  const query = useQuery({
    queryKey: ["deliveries", id],
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/webhook-deliveries/{delivery_id}", { params: { path: { delivery_id: id } } }),
      ),
  });
  const release = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/api/v1/webhook-deliveries/{delivery_id}/release", {
          params: { path: { delivery_id: id } },
        }),
      ),
    onSettled: () => client.invalidateQueries({ queryKey: ["deliveries"] }),
  });
  return (
    <QueryView query={query} label="Loading the delivery">
      {(d) => (
        <Stack>
          <Group justify="space-between">
            <Title order={2}>
              Delivery #{d.id} · {d.gateway}
            </Title>
            {d.outcome === "quarantined" && may(user, "operator") && (
              <ConfirmButton
                label="Release"
                color="blue"
                question="Hand this delivery back to the reconciler with its attempts reset?"
                onConfirm={() => release.mutate()}
              />
            )}
          </Group>
          {release.isError && <ErrorAlert error={release.error} title="Release refused" />}
          <Card withBorder>
            <Table withRowBorders={false} verticalSpacing={2}>
              <Table.Tbody>
                <FieldRow name="Received">{formatTime(d.received_at)}</FieldRow>
                <FieldRow name="From">{d.remote_addr ?? "—"}</FieldRow>
                <FieldRow name="Event">
                  {d.event_type ?? "—"} {d.event_id ? `(${d.event_id})` : ""}
                </FieldRow>
                <FieldRow name="Invoice">{d.invoice_id ?? "—"}</FieldRow>
                <FieldRow name="Verification">
                  <StatusBadge status={d.verification} />
                </FieldRow>
                <FieldRow name="Outcome">
                  <StatusBadge status={d.outcome ?? "pending"} />
                </FieldRow>
                <FieldRow name="Reason">{d.reason ?? "—"}</FieldRow>
                <FieldRow name="Attempts">{d.attempts}</FieldRow>
              </Table.Tbody>
            </Table>
          </Card>
          <Card withBorder>
            <Text fw={600} mb="xs">
              Headers (masked)
            </Text>
            <JsonBlock value={d.headers} label="Delivery headers" />
            <Text fw={600} my="xs">
              Body ({d.body_size} bytes{d.body_truncated ? `, truncated; sha256 ${d.body_sha256}` : ""})
            </Text>
            <JsonBlock value={d.body} label="Delivery body" />
          </Card>
        </Stack>
      )}
    </QueryView>
  );
}
