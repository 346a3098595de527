/**
 * The order's switch-port jobs: each a run of its own that moves the host's edge port to (or
 * off) the service's VLAN, with its state, attempts and last error; an operator retries a
 * failed one through the runs API.
 */
import { Button, Card, Table, Text, Title } from "@mantine/core";
import { useMutation, useQueryClient } from "@tanstack/react-query";
import { api, type Schemas, unwrap } from "../../api/client";
import { may } from "../../api/auth";
import { ErrorAlert } from "../../components/States";
import { StatusBadge } from "../../components/StatusBadge";
import { useUser } from "../../session/session";
import { orderKey } from "./queries";

type Job = Schemas["SwitchPortJobOut"];

const VERBS: Record<Job["operation"], string> = {
  access: "access port on",
  trunk_add: "trunk adds",
  trunk_remove: "trunk drops",
};

export function SwitchPortJobs({ orderId, jobs }: { orderId: number; jobs: Job[] }) {
  const user = useUser();
  const client = useQueryClient();
  const retry = useMutation({
    mutationFn: (runId: number) =>
      unwrap(api.POST("/api/v1/runs/{run_id}/retry", { params: { path: { run_id: runId } }, body: {} })),
    onSettled: () => client.invalidateQueries({ queryKey: orderKey(orderId) }),
  });
  if (jobs.length === 0) return null;
  return (
    <Card withBorder role="region" aria-label="Switch-port jobs">
      <Title order={3} size="h4" mb="md">
        Switch-port jobs
      </Title>
      <Table>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Port</Table.Th>
            <Table.Th>Change</Table.Th>
            <Table.Th>State</Table.Th>
            <Table.Th>Failed attempts</Table.Th>
            <Table.Th>Last error</Table.Th>
            <Table.Th />
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {jobs.map((job) => (
            <Table.Tr key={job.id}>
              <Table.Td>{job.port}</Table.Td>
              <Table.Td>
                {VERBS[job.operation]} VLAN {job.vlan}
              </Table.Td>
              <Table.Td>
                <StatusBadge status={job.state} />
              </Table.Td>
              <Table.Td>{job.attempt}</Table.Td>
              <Table.Td>
                <Text size="sm" c="red.8">
                  {job.last_error ? String(job.last_error.message ?? "") : ""}
                </Text>
              </Table.Td>
              <Table.Td>
                {job.state === "failed" && may(user, "operator") && (
                  <Button
                    size="xs"
                    aria-label={`Retry the job on ${job.port}`}
                    loading={retry.isPending && retry.variables === job.run_id}
                    onClick={() => retry.mutate(job.run_id)}
                  >
                    Retry
                  </Button>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {retry.isError && <ErrorAlert error={retry.error} title="Refused" />}
    </Card>
  );
}
