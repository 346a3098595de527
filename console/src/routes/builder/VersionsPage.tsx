/**
 * `/plugins/:slug/versions`: every stored version of a plugin, and the structural difference
 * between two of them (`?from=1&to=2`), read as a list of changes and as a text diff.
 */
import { Anchor, Badge, Button, Code, Group, Radio, Stack, Table, Text, Title } from "@mantine/core";
import { useQuery } from "@tanstack/react-query";
import { Link, useParams, useSearchParams } from "react-router";
import { api, unwrap } from "../../api/client";
import { Empty, QueryView } from "../../components/States";
import { formatTime } from "../../components/time";
import { useVersions } from "../../features/builder/queries";

const OP_COLOURS = { add: "green", remove: "red", replace: "blue" } as const;

function short(value: unknown): string {
  if (value === undefined || value === null) return "—";
  const text = JSON.stringify(value);
  return text.length > 160 ? `${text.slice(0, 157)}…` : text;
}

export function VersionsPage() {
  const slug = useParams().slug ?? "";
  const [params, setParams] = useSearchParams();
  const versions = useVersions(slug);
  const numbers = (versions.data ?? []).map((v) => v.version);
  const to = Number(params.get("to") ?? numbers[0] ?? 0);
  const from = Number(params.get("from") ?? numbers[1] ?? numbers[0] ?? 0);
  const diff = useQuery({
    queryKey: ["plugins", slug, "diff", from, to],
    enabled: from > 0 && to > 0 && from !== to,
    queryFn: () => unwrap(api.GET("/api/v1/plugins/{slug}/diff", { params: { path: { slug }, query: { from, to } } })),
  });
  const choose = (key: "from" | "to", value: number) => {
    const next = new URLSearchParams(params);
    next.set(key, String(value));
    if (!next.has(key === "from" ? "to" : "from")) next.set(key === "from" ? "to" : "from", String(key === "from" ? to : from));
    setParams(next);
  };
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{slug}: versions</Title>
        <Button component={Link} to={`/plugins/${encodeURIComponent(slug)}/edit`} size="xs">
          Edit the newest
        </Button>
      </Group>
      <QueryView query={versions} label="Loading versions">
        {(items) =>
          items.length === 0 ? (
            <Empty>No versions.</Empty>
          ) : (
            <Table aria-label="Versions" striped>
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Version</Table.Th>
                  <Table.Th>From</Table.Th>
                  <Table.Th>To</Table.Th>
                  <Table.Th>Source</Table.Th>
                  <Table.Th>Registered</Table.Th>
                  <Table.Th>sha256</Table.Th>
                  <Table.Th />
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {items.map((v) => (
                  <Table.Tr key={v.version}>
                    <Table.Td>v{v.version}</Table.Td>
                    <Table.Td>
                      <Radio aria-label={`diff from v${v.version}`} checked={from === v.version} onChange={() => choose("from", v.version)} />
                    </Table.Td>
                    <Table.Td>
                      <Radio aria-label={`diff to v${v.version}`} checked={to === v.version} onChange={() => choose("to", v.version)} />
                    </Table.Td>
                    <Table.Td>{v.source}</Table.Td>
                    <Table.Td>{formatTime(v.created_at)}</Table.Td>
                    <Table.Td>
                      <Code>{v.sha256.slice(0, 12)}</Code>
                    </Table.Td>
                    <Table.Td>
                      <Anchor component={Link} to={`/plugins/${encodeURIComponent(slug)}/edit?version=${v.version}`} size="sm">
                        Open in the builder
                      </Anchor>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          )
        }
      </QueryView>
      {from > 0 && to > 0 && from !== to && (
        <section aria-label="Difference">
          <Title order={3} size="h4" mb="xs">
            v{from} → v{to}
          </Title>
          <QueryView query={diff} label="Comparing">
            {(answer) =>
              answer.changes.length === 0 ? (
                <Empty>No difference.</Empty>
              ) : (
                <Stack>
                  <Table aria-label="Changes">
                    <Table.Thead>
                      <Table.Tr>
                        <Table.Th>Change</Table.Th>
                        <Table.Th>Where</Table.Th>
                        <Table.Th>Before</Table.Th>
                        <Table.Th>After</Table.Th>
                      </Table.Tr>
                    </Table.Thead>
                    <Table.Tbody>
                      {answer.changes.map((c, i) => (
                        <Table.Tr key={i}>
                          <Table.Td>
                            <Badge color={OP_COLOURS[c.op]} variant="light">
                              {c.op}
                            </Badge>
                          </Table.Td>
                          <Table.Td>
                            <Code>{c.path}</Code>
                          </Table.Td>
                          <Table.Td>
                            <Code>{short(c.from)}</Code>
                          </Table.Td>
                          <Table.Td>
                            <Code>{short(c.to)}</Code>
                          </Table.Td>
                        </Table.Tr>
                      ))}
                    </Table.Tbody>
                  </Table>
                  <Code block aria-label="Text diff" fz="xs">
                    {answer.text.split("\n").map((line, i) => (
                      <Text
                        key={i}
                        component="span"
                        fz="xs"
                        ff="monospace"
                        display="block"
                        c={line.startsWith("+") && !line.startsWith("+++") ? "green.8" : line.startsWith("-") && !line.startsWith("---") ? "red.8" : undefined}
                      >
                        {line || " "}
                      </Text>
                    ))}
                  </Code>
                  {answer.truncated && <Text size="xs" c="dimmed">The text diff is cut; the list of changes is complete.</Text>}
                </Stack>
              )
            }
          </QueryView>
        </section>
      )}
      {from === to && numbers.length > 1 && <Text c="dimmed">Pick two different versions to compare.</Text>}
    </Stack>
  );
}
