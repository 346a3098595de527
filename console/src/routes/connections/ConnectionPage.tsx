/**
 * Create or edit a connection (`/connections/new`, `/connections/:name`): secrets are
 * write-only (an empty field keeps the stored one), the test button shows the verdict and the
 * trimmed exchange, delete asks first.
 */
import {
  Alert,
  Badge,
  Button,
  Card,
  Group,
  JsonInput,
  PasswordInput,
  Select,
  Stack,
  TagsInput,
  Text,
  TextInput,
  Title,
} from "@mantine/core";
import { type FormEvent, useState } from "react";
import { useNavigate, useParams } from "react-router";
import type { Schemas } from "../../api/client";
import { may } from "../../api/auth";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ExchangeView } from "../../components/ExchangeView";
import { FormCard } from "../../components/FormCard";
import { ErrorAlert, Loading } from "../../components/States";
import { useUser } from "../../session/session";
import {
  useConnection,
  useConnectionTypes,
  useDeleteConnection,
  useSaveConnection,
  useTestConnection,
} from "./queries";

type Connection = Schemas["ConnectionOut"];
type Purpose = Schemas["ConnectionIn"]["purpose"];

/**
 * The secret names the settings' `auth` (and each extra credential's) names, as typed so far:
 * an `http` connection's secrets are whatever its own authentication names. Unparsable: none.
 */
export function authSecretNames(settings: string): string[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(settings || "{}");
  } catch {
    return [];
  }
  if (!parsed || typeof parsed !== "object") return [];
  const record = parsed as { auth?: unknown; credentials?: unknown };
  const schemes = [record.auth, ...Object.values((record.credentials as object | null) ?? {})];
  const names: string[] = [];
  for (const scheme of schemes) {
    if (!scheme || typeof scheme !== "object") continue;
    const { secret, params } = scheme as { secret?: unknown; params?: unknown };
    if (typeof secret === "string" && secret) names.push(secret);
    if (params && typeof params === "object") {
      names.push(...Object.values(params).filter((v): v is string => typeof v === "string" && v !== ""));
    }
  }
  return names;
}

export function ConnectionPage() {
  const name = useParams().name;
  const existing = useConnection(name);
  const types = useConnectionTypes();
  if (types.isPending || (name !== undefined && existing.isPending)) return <Loading />;
  if (types.isError) return <ErrorAlert error={types.error} />;
  if (existing.isError) return <ErrorAlert error={existing.error} />;
  return <ConnectionForm key={name ?? "new"} connection={existing.data} types={types.data} />;
}

function ConnectionForm({
  connection,
  types,
}: {
  connection: Connection | undefined;
  types: Schemas["ConnectionTypeOut"][];
}) {
  const user = useUser();
  const navigate = useNavigate();
  const save = useSaveConnection(connection?.name);
  const remove = useDeleteConnection();
  const test = useTestConnection();
  const [name, setName] = useState(connection?.name ?? "");
  const [type, setType] = useState<string | null>(connection?.type ?? null);
  const [baseUrl, setBaseUrl] = useState(connection?.base_url ?? "");
  const [settings, setSettings] = useState(JSON.stringify(connection?.settings ?? {}, null, 2));
  const [networks, setNetworks] = useState<string[]>(connection?.allowed_networks ?? []);
  const [purpose, setPurpose] = useState<Purpose>(connection?.purpose ?? "production");
  const [secrets, setSecrets] = useState<Record<string, string>>({});
  const [settingsError, setSettingsError] = useState<string | null>(null);
  const admin = may(user, "admin");
  const chosen = types.find((t) => t.name === type);
  const secretNames = [
    ...new Set([
      ...(chosen?.secrets ?? []),
      ...(chosen?.optional_secrets ?? []),
      ...(connection?.secret_names ?? []),
      ...authSecretNames(settings),
    ]),
  ];

  const submit = (event: FormEvent) => {
    event.preventDefault();
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(settings || "{}") as Record<string, unknown>;
      setSettingsError(null);
    } catch {
      setSettingsError("settings must be a JSON object");
      return;
    }
    const typed = Object.fromEntries(Object.entries(secrets).filter(([, v]) => v !== ""));
    save.mutate(
      {
        name,
        type: type ?? "",
        base_url: baseUrl,
        purpose,
        settings: parsed,
        secrets: typed,
        allowed_networks: networks,
      },
      {
        onSuccess: (saved) => {
          setSecrets({});
          navigate(`/connections/${encodeURIComponent(saved.name)}`, { replace: true });
        },
      },
    );
  };

  return (
    <Stack maw={720}>
      <Group justify="space-between">
        <Title order={2}>{connection ? `Connection ${connection.name}` : "New connection"}</Title>
        {connection && (
          <Group gap="xs">
            <Button
              variant="outline"
              size="xs"
              loading={test.isPending}
              onClick={() => test.mutate(connection.name)}
            >
              Test connection
            </Button>
            {admin && (
              <ConfirmButton
                size="xs"
                variant="outline"
                label="Delete"
                question={`Delete connection ${connection.name}? The API refuses while a plugin or product uses it.`}
                onConfirm={() => remove.mutate(connection.name, { onSuccess: () => navigate("/connections") })}
              />
            )}
          </Group>
        )}
      </Group>
      {remove.isError && <ErrorAlert error={remove.error} title="Not deleted" />}
      {test.isError && <ErrorAlert error={test.error} title="The test could not run" />}
      {test.data && <TestVerdict result={test.data} />}
      <FormCard label="Connection" locked={!admin} onSubmit={submit}>
        <TextInput
          label="Name"
          required
          disabled={connection !== undefined}
          value={name}
          onChange={(e) => setName(e.currentTarget.value)}
        />
        <Select
          label="Type"
          required
          disabled={connection !== undefined}
          data={types.map((t) => ({ value: t.name, label: t.title }))}
          value={type}
          onChange={setType}
        />
        <Select
          label="Purpose"
          description="test: a simulator or a test panel, which flow tests may use freely; production: a panel that serves customers"
          data={["production", "test"]}
          value={purpose}
          allowDeselect={false}
          onChange={(value) => setPurpose(value === "test" ? "test" : "production")}
        />
        <TextInput
          label="Base URL"
          required
          placeholder="https://panel.example.com/api/v1"
          value={baseUrl}
          onChange={(e) => setBaseUrl(e.currentTarget.value)}
        />
        {secretNames.map((secret) => (
          <PasswordInput
            key={secret}
            label={`Secret: ${secret}`}
            description={
              connection?.secret_names.includes(secret)
                ? "set; leave empty to keep it (it is never shown)"
                : "write-only: it is never shown again"
            }
            autoComplete="new-password"
            value={secrets[secret] ?? ""}
            onChange={(e) => {
              const value = e.currentTarget.value;
              setSecrets((old) => ({ ...old, [secret]: value }));
            }}
          />
        ))}
        <TagsInput
          label="Allowed private networks"
          description="loopback or private networks this connection may reach (CIDR); empty: public addresses only"
          value={networks}
          onChange={setNetworks}
        />
        <JsonInput
          label="Settings"
          rows={5}
          value={settings}
          onChange={setSettings}
          error={settingsError}
        />
        {save.isError && <ErrorAlert error={save.error} title="Not saved" />}
        {save.isSuccess && <Alert color="green">Saved.</Alert>}
        {admin && (
          <Group justify="flex-end">
            <Button type="submit" loading={save.isPending}>
              {connection ? "Save changes" : "Create connection"}
            </Button>
          </Group>
        )}
      </FormCard>
    </Stack>
  );
}

function TestVerdict({ result }: { result: Schemas["TestResultOut"] }) {
  return (
    <Card withBorder role="region" aria-label="Test result" bg={result.ok ? "green.0" : "red.0"}>
      <Group gap="xs" mb="xs">
        <Badge color={result.ok ? "green" : "red"}>{result.ok ? "reachable" : "failed"}</Badge>
        {result.status != null && <Text size="sm">HTTP {result.status}</Text>}
        <Text size="sm" c="dimmed">
          {Math.round(result.elapsed_ms)} ms
        </Text>
      </Group>
      {result.message !== `HTTP ${result.status}` && (
        <Text size="sm" mb="xs">
          {result.message}
        </Text>
      )}
      {result.exchange && <ExchangeView exchange={result.exchange} />}
    </Card>
  );
}
