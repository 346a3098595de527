/**
 * One service: its state and details, a link to its order, the lifecycle actions the API says
 * it may take now (destructive ones ask first and take a reason), the latest action's progress
 * and result (live: the events refresh it), the action history and the root password reveal.
 */
import { Anchor, Button, Card, Group, List, Stack, Table, Text, Textarea, TextInput, Title } from "@mantine/core";
import { useState } from "react";
import { Link, useParams } from "react-router";
import { may } from "../../api/auth";
import { ConfirmButton } from "../../components/ConfirmButton";
import { FieldRow } from "../../components/FieldRow";
import { JsonBlock } from "../../components/JsonBlock";
import { RevealPassword } from "../../components/RevealPassword";
import { Empty, ErrorAlert, QueryView } from "../../components/States";
import { StatusBadge } from "../../components/StatusBadge";
import { formatTime } from "../../components/time";
import { useMe, useUser } from "../../session/session";
import { type Action, type Service, useService, useServiceAction } from "./queries";

export function ServicePage() {
  const id = Number(useParams().serviceId);
  const query = useService(id);
  if (!Number.isInteger(id) || id < 1) return <ErrorAlert error={new Error("no such service")} />;
  return (
    <QueryView query={query} label="Loading the service">
      {(service) => <ServiceView service={service} />}
    </QueryView>
  );
}

function ServiceView({ service }: { service: Service }) {
  const latest = service.actions[0];
  return (
    <Stack gap="lg">
      <div>
        <Title order={2}>
          Service {service.id} · {service.hostname}
        </Title>
        <Group gap="xs" mt={4}>
          <Text size="sm" c="dimmed">
            Service state
          </Text>
          <span aria-label="Service state">
            <StatusBadge status={service.state} />
          </span>
          <Anchor component={Link} to={`/orders/${service.order_id}`} size="sm">
            Order {service.order_id}
          </Anchor>
        </Group>
      </div>
      <ActionsCard service={service} />
      {latest && <LatestAction action={latest} />}
      <DetailsCard service={service} />
      <HistoryCard actions={service.actions} />
    </Stack>
  );
}

interface VerbButton {
  verb: string;
  label: string;
  /** Destructive or disruptive: it asks first, saying this. */
  question?: string;
}

const BUTTONS: VerbButton[] = [
  { verb: "stats", label: "Stats" },
  { verb: "console", label: "Console" },
  { verb: "unsuspend", label: "Unsuspend" },
  { verb: "suspend", label: "Suspend", question: "The server is stopped until it is unsuspended." },
  {
    verb: "reset_password",
    label: "Reset password",
    question: "A new root password is set on the panel; the old one stops working.",
  },
  {
    verb: "reinstall",
    label: "Reinstall",
    question: "The disk is wiped and the operating system installed again: data on it is lost.",
  },
  {
    verb: "terminate",
    label: "Terminate",
    question: "The server is deleted upstream and its capacity and address are given back. This cannot be undone.",
  },
];

function ActionsCard({ service }: { service: Service }) {
  const me = useMe();
  const operator = may(me.data, "operator");
  const act = useServiceAction(service.id);
  const [reason, setReason] = useState("");
  const [resizing, setResizing] = useState(false);
  const [options, setOptions] = useState("");
  const [notJson, setNotJson] = useState<string | null>(null);
  const allowed = new Set(service.verbs.filter((v) => v.allowed).map((v) => v.verb));
  const unavailable = service.verbs.filter((v) => v.offered && !v.allowed);
  const run = (verb: string, params?: Record<string, unknown>) =>
    act.mutate(
      { verb, reason: reason.trim() || undefined, params },
      {
        onSuccess: () => {
          setReason("");
          setResizing(false);
        },
      },
    );
  const resize = () => {
    try {
      setNotJson(null);
      run("resize", { options: JSON.parse(options) as unknown });
    } catch {
      setNotJson('The new plan\'s options must be JSON, e.g. {"plan_id": 3}.');
    }
  };
  return (
    <Card withBorder role="region" aria-label="Actions">
      <Title order={3} size="h4" mb="sm">
        Actions
      </Title>
      {!service.verbs.some((v) => v.offered) ? (
        <Text size="sm" c="dimmed">
          {service.verbs[0]?.refusal ?? "The service's plugin offers no lifecycle actions."}
        </Text>
      ) : me.isPending ? null : !operator ? (
        <Text size="sm" c="dimmed">
          Acting on a service needs the operator role.
        </Text>
      ) : (
        <Stack gap="sm">
          {allowed.size > 0 && (
            <>
              <TextInput
                label="Reason"
                description="Kept in the order's activity and the audit log."
                size="xs"
                maw={420}
                value={reason}
                onChange={(e) => setReason(e.currentTarget.value)}
              />
              <Group gap="xs">
                {BUTTONS.filter((b) => allowed.has(b.verb)).map((b) =>
                  b.question ? (
                    <ConfirmButton
                      key={b.verb}
                      size="xs"
                      variant="outline"
                      color={b.verb === "terminate" ? "red" : "orange"}
                      label={b.label}
                      question={`${b.question}${reason.trim() ? ` Reason: ${reason.trim()}` : ""}`}
                      loading={act.isPending && act.variables?.verb === b.verb}
                      onConfirm={() => run(b.verb)}
                    />
                  ) : (
                    <Button
                      key={b.verb}
                      size="xs"
                      variant="default"
                      loading={act.isPending && act.variables?.verb === b.verb}
                      onClick={() => run(b.verb)}
                    >
                      {b.label}
                    </Button>
                  ),
                )}
                {allowed.has("resize") && (
                  <Button size="xs" variant="default" onClick={() => setResizing((open) => !open)} aria-expanded={resizing}>
                    Resize…
                  </Button>
                )}
              </Group>
              {resizing && (
                <Group align="flex-end" gap="xs">
                  <Textarea
                    label="New plan options (JSON)"
                    description="What the plugin's resize flow reads as params.options."
                    placeholder='{"plan_id": 3}'
                    size="xs"
                    w={320}
                    rows={2}
                    value={options}
                    onChange={(e) => setOptions(e.currentTarget.value)}
                    error={notJson}
                  />
                  <Button size="xs" onClick={resize} loading={act.isPending && act.variables?.verb === "resize"}>
                    Queue resize
                  </Button>
                </Group>
              )}
            </>
          )}
          {unavailable.length > 0 && (
            <div aria-label="Unavailable now">
              <Text size="xs" c="dimmed">
                Not available now:
              </Text>
              <List size="xs" c="dimmed">
                {unavailable.map((v) => (
                  <List.Item key={v.verb}>{v.refusal ?? v.verb}</List.Item>
                ))}
              </List>
            </div>
          )}
        </Stack>
      )}
      {act.isSuccess && (
        <Text size="sm" mt="sm" role="status">
          Queued {act.data.verb} (action {act.data.id}).
        </Text>
      )}
      {act.isError && (
        <Stack mt="sm">
          <ErrorAlert error={act.error} title="Refused" />
        </Stack>
      )}
    </Card>
  );
}

function isFlat(value: unknown): value is Record<string, string | number | boolean | null> {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => v === null || ["string", "number", "boolean"].includes(typeof v))
  );
}

/** What a completed action answered: a console session as fields, figures as JSON. */
function ResultView({ action }: { action: Action }) {
  const result = action.result;
  if (result === null || result === undefined) return null;
  if (isFlat(result)) {
    return (
      <Table withRowBorders={false} verticalSpacing={2} aria-label={`Result of ${action.verb}`}>
        <Table.Tbody>
          {Object.entries(result).map(([key, value]) => (
            <FieldRow key={key} name={key}>
              <Text size="sm" ff="monospace" style={{ wordBreak: "break-all" }}>
                {String(value)}
              </Text>
            </FieldRow>
          ))}
        </Table.Tbody>
      </Table>
    );
  }
  return <JsonBlock value={result} label={`Result of ${action.verb}`} />;
}

function LatestAction({ action }: { action: Action }) {
  const error = action.error;
  return (
    <Card withBorder role="region" aria-label="Latest action">
      <Group gap="xs" mb="xs">
        <Title order={3} size="h4">
          Latest action: {action.verb}
        </Title>
        <span aria-label="Action state">
          <StatusBadge status={action.state} />
        </span>
        <Text size="xs" c="dimmed">
          #{action.id} by {action.requested_by} · {formatTime(action.created_at)}
          {action.waiting_for ? ` · waiting for ${action.waiting_for}` : ""}
        </Text>
      </Group>
      {error && (
        <Text size="sm" c="red.8">
          {String(error.code ?? "Error")}: {String(error.message ?? "")}
        </Text>
      )}
      <ResultView action={action} />
    </Card>
  );
}

function DetailsCard({ service }: { service: Service }) {
  const canReveal = may(useUser(), "operator");
  return (
    <Card withBorder role="region" aria-label="Details">
      <Title order={3} size="h4" mb="sm">
        Details
      </Title>
      <Table withRowBorders={false} verticalSpacing={2}>
        <Table.Tbody>
          <FieldRow name="Order">
            <Anchor component={Link} to={`/orders/${service.order_id}`}>
              Order {service.order_id}
            </Anchor>{" "}
            <StatusBadge status={service.order_state} />
          </FieldRow>
          <FieldRow name="Product">{service.product}</FieldRow>
          <FieldRow name="Plugin">{service.plugin ?? "—"}</FieldRow>
          <FieldRow name="Host">{service.host ?? "—"}</FieldRow>
          <FieldRow name="Panel id">{service.external_id ?? "—"}</FieldRow>
          <FieldRow name="Addresses">
            {service.addresses.length === 0
              ? "—"
              : service.addresses.map((a) => (
                  <Text size="sm" key={a.address}>
                    {a.address} ({a.subnet}, gateway {a.gateway}, {a.state})
                  </Text>
                ))}
          </FieldRow>
          <FieldRow name="Credentials">
            {service.has_credentials ? canReveal ? <RevealPassword serviceId={service.id} /> : "sealed" : "none"}
          </FieldRow>
          <FieldRow name="Capabilities">{service.capabilities.join(", ") || "—"}</FieldRow>
          <FieldRow name="Created">{formatTime(service.created_at)}</FieldRow>
          <FieldRow name="Updated">{formatTime(service.updated_at)}</FieldRow>
        </Table.Tbody>
      </Table>
      {Object.keys(service.service_data).length > 0 && (
        <details>
          <summary>
            <Text span size="sm">
              Service data
            </Text>
          </summary>
          <JsonBlock value={service.service_data} label="Service data" />
        </details>
      )}
    </Card>
  );
}

function HistoryCard({ actions }: { actions: Action[] }) {
  return (
    <Card withBorder role="region" aria-label="Action history">
      <Title order={3} size="h4" mb="sm">
        Action history
      </Title>
      {actions.length === 0 ? (
        <Empty>No action yet.</Empty>
      ) : (
        <Table.ScrollContainer minWidth={700}>
          <Table striped verticalSpacing={4} fz="sm" aria-label="Actions of the service">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Requested</Table.Th>
                <Table.Th>Verb</Table.Th>
                <Table.Th>State</Table.Th>
                <Table.Th>By</Table.Th>
                <Table.Th>Reason</Table.Th>
                <Table.Th>Finished</Table.Th>
                <Table.Th>Outcome</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {actions.map((a) => (
                <Table.Tr key={a.id}>
                  <Table.Td ff="monospace" style={{ whiteSpace: "nowrap" }}>
                    {formatTime(a.created_at)}
                  </Table.Td>
                  <Table.Td>{a.verb}</Table.Td>
                  <Table.Td>
                    <StatusBadge status={a.state} />
                  </Table.Td>
                  <Table.Td>{a.requested_by}</Table.Td>
                  <Table.Td>{a.reason ?? ""}</Table.Td>
                  <Table.Td ff="monospace" style={{ whiteSpace: "nowrap" }}>
                    {a.finished_at ? formatTime(a.finished_at) : ""}
                  </Table.Td>
                  <Table.Td>
                    {a.error ? (
                      <Text size="sm" c="red.8">
                        {String(a.error.message ?? a.error.code ?? "failed")}
                      </Text>
                    ) : a.result !== null && a.result !== undefined ? (
                      <details>
                        <summary>Result</summary>
                        <JsonBlock value={a.result} />
                      </details>
                    ) : (
                      ""
                    )}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Card>
  );
}
