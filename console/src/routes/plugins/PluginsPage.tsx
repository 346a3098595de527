/** Plugins: what is loaded, at which version; a plugin's versions and their documents. */
import { Anchor, Badge, Button, Card, Group, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link, useParams, useSearchParams } from "react-router";
import { api, unwrap } from "../../api/client";
import { ErrorAlert, Empty, QueryView } from "../../components/States";
import { JsonBlock } from "../../components/JsonBlock";
import { formatTime } from "../../components/time";

export function PluginsPage() {
  const query = useQuery({ queryKey: ["plugins"], queryFn: () => unwrap(api.GET("/api/v1/plugins")) });
  return (
    <>
      <Title order={2} mb="md">
        Plugins
      </Title>
      <QueryView query={query} label="Loading plugins">
        {({ items, folder_errors }) => (
          <Stack>
            {folder_errors.length > 0 && (
              <ErrorAlert error={new Error(JSON.stringify(folder_errors))} title="Plugin folder errors" />
            )}
            {items.length === 0 ? (
              <Empty>No plugins loaded.</Empty>
            ) : (
              <Table striped highlightOnHover aria-label="Plugins">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Plugin</Table.Th>
                    <Table.Th>Name</Table.Th>
                    <Table.Th>Service type</Table.Th>
                    <Table.Th>Current version</Table.Th>
                    <Table.Th>Versions</Table.Th>
                    <Table.Th>Source</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {items.map((p) => (
                    <Table.Tr key={p.slug}>
                      <Table.Td>
                        <Anchor component={Link} to={`/plugins/${encodeURIComponent(p.slug)}`}>
                          {p.slug}
                        </Anchor>
                      </Table.Td>
                      <Table.Td>{p.name ?? "—"}</Table.Td>
                      <Table.Td>{p.serviceType ?? "—"}</Table.Td>
                      <Table.Td>v{p.version}</Table.Td>
                      <Table.Td>{p.versions}</Table.Td>
                      <Table.Td>{p.source}</Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            )}
          </Stack>
        )}
      </QueryView>
    </>
  );
}

export function PluginPage() {
  const slug = useParams().slug ?? "";
  const [params, setParams] = useSearchParams();
  const versions = useQuery({
    queryKey: ["plugins", slug, "versions"],
    queryFn: () => unwrap(api.GET("/api/v1/plugins/{slug}/versions", { params: { path: { slug } } })),
  });
  const latest = versions.data ? Math.max(...versions.data.map((v) => v.version)) : undefined;
  const chosen = Number(params.get("version") ?? latest);
  const document = useQuery({
    queryKey: ["plugins", slug, "versions", chosen],
    enabled: Number.isInteger(chosen) && chosen > 0,
    queryFn: () =>
      unwrap(
        api.GET("/api/v1/plugins/{slug}/versions/{version}", {
          params: { path: { slug, version: chosen } },
        }),
      ),
  });
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Plugin {slug}</Title>
        <Group gap="xs">
          <Button component={Link} to={`/plugins/${encodeURIComponent(slug)}/versions`} size="xs" variant="default">
            Compare versions
          </Button>
          <Button component={Link} to={`/plugins/${encodeURIComponent(slug)}/edit`} size="xs">
            Open in the builder
          </Button>
        </Group>
      </Group>
      <QueryView query={versions} label="Loading versions">
        {(list) => (
          <Table aria-label="Versions" highlightOnHover>
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Version</Table.Th>
                <Table.Th>Saved</Table.Th>
                <Table.Th>Source</Table.Th>
                <Table.Th>SHA-256</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {[...list].reverse().map((v) => (
                <Table.Tr key={v.version}>
                  <Table.Td>
                    <Group gap="xs">
                      <Anchor component="button" onClick={() => setParams({ version: String(v.version) })}>
                        v{v.version}
                      </Anchor>
                      {v.version === latest && <Badge size="xs">current</Badge>}
                    </Group>
                  </Table.Td>
                  <Table.Td ff="monospace">{formatTime(v.created_at)}</Table.Td>
                  <Table.Td>{v.source}</Table.Td>
                  <Table.Td ff="monospace" fz="xs">
                    {v.sha256.slice(0, 16)}…
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        )}
      </QueryView>
      {document.data && (
        <Card withBorder>
          <Text fw={600} mb="xs">
            Document of v{document.data.version}
          </Text>
          <JsonBlock value={document.data.document} label="Plugin document" />
        </Card>
      )}
      {document.isError && <ErrorAlert error={document.error} />}
    </Stack>
  );
}
