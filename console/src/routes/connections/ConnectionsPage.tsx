/** Connections to upstream panels: which exist, their secrets named (never shown). */
import { Anchor, Badge, Button, Group, Table, Title } from "@mantine/core";
import { Link } from "react-router";
import { may } from "../../api/auth";
import { Empty, QueryView } from "../../components/States";
import { useUser } from "../../session/session";
import { useConnections } from "./queries";

export function ConnectionsPage() {
  const query = useConnections();
  const user = useUser();
  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={2}>Connections</Title>
        {may(user, "admin") && (
          <Button component={Link} to="/connections/new" size="xs">
            New connection
          </Button>
        )}
      </Group>
      <QueryView query={query} label="Loading connections">
        {({ items }) =>
          items.length === 0 ? (
            <Empty>No connections yet: add one for each panel that provisions services.</Empty>
          ) : (
            <Table striped highlightOnHover aria-label="Connections">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th>Type</Table.Th>
                  <Table.Th>Purpose</Table.Th>
                  <Table.Th>Base URL</Table.Th>
                  <Table.Th>Secrets set</Table.Th>
                  <Table.Th>Allowed networks</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {items.map((c) => (
                  <Table.Tr key={c.id}>
                    <Table.Td>
                      <Anchor component={Link} to={`/connections/${encodeURIComponent(c.name)}`}>
                        {c.name}
                      </Anchor>
                    </Table.Td>
                    <Table.Td>{c.type}</Table.Td>
                    <Table.Td>{c.purpose}</Table.Td>
                    <Table.Td ff="monospace" fz="sm">
                      {c.base_url}
                    </Table.Td>
                    <Table.Td>
                      <Group gap={4}>
                        {c.secret_names.map((s) => (
                          <Badge key={s} variant="light" color="gray">
                            {s}
                          </Badge>
                        ))}
                      </Group>
                    </Table.Td>
                    <Table.Td fz="sm">{c.allowed_networks.join(", ") || "public only"}</Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )
        }
      </QueryView>
    </>
  );
}
