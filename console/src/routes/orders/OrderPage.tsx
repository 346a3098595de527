/**
 * One order: the phase timeline (each phase's status, attempts, duration, its upstream
 * exchange and error), retry from this phase or an earlier one, cancel, the activity log, the
 * invoice with its payments, refunds and deliveries, the service, its checkout hold and its
 * switch-port jobs.
 */
import {
  Anchor,
  Badge,
  Button,
  Card,
  Collapse,
  Group,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Timeline,
  Title,
} from "@mantine/core";
import { useDisclosure } from "@mantine/hooks";
import { useState } from "react";
import { Link, useParams } from "react-router";
import type { Schemas } from "../../api/client";
import { may } from "../../api/auth";
import { ConfirmButton } from "../../components/ConfirmButton";
import { ExchangeView } from "../../components/ExchangeView";
import { FieldRow } from "../../components/FieldRow";
import { JsonBlock } from "../../components/JsonBlock";
import { Empty, ErrorAlert, QueryView } from "../../components/States";
import { StatusBadge, colourOf } from "../../components/StatusBadge";
import { between, formatDuration, formatMoney, formatTime } from "../../components/time";
import { useUser } from "../../session/session";
import { RevealPassword } from "../../components/RevealPassword";
import { type Attempt, type Order, type TimelineEntry, timeline } from "./timeline";
import { useInvoice, useInvoiceDeliveries, useOrder, useOrderAction } from "./queries";
import { TakePayment } from "./TakePayment";
import { HoldRows } from "./HoldRows";
import { SwitchPortJobs } from "./SwitchPortJobs";

export function OrderPage() {
  const id = Number(useParams().orderId);
  const query = useOrder(id);
  if (!Number.isInteger(id) || id < 1) return <ErrorAlert error={new Error("no such order")} />;
  return (
    <QueryView query={query} label="Loading the order">
      {(order) => <OrderView order={order} />}
    </QueryView>
  );
}

function OrderView({ order }: { order: Order }) {
  const entries = timeline(order);
  return (
    <Stack gap="lg">
      <Group justify="space-between" align="flex-start">
        <div>
          <Title order={2}>
            Order {order.id} · {order.hostname}
          </Title>
          <Group gap="xs" mt={4}>
            <Text size="sm" c="dimmed">
              Order state
            </Text>
            <span aria-label="Order state">
              <StatusBadge status={order.state} />
            </span>
            {order.run && (
              <Text size="sm" c="dimmed">
                run {order.run.id} {order.run.state} at {order.run.phase}
              </Text>
            )}
          </Group>
        </div>
        {order.run && <RunActions order={order} run={order.run} />}
      </Group>
      <TakePayment orderId={order.id} invoice={order.invoice} />
      {order.run?.last_error && order.run.state !== "completed" && (
        <ErrorCard order={order} suggestion={entries.find((e) => e.current)?.suggestion ?? null} />
      )}
      <Card withBorder>
        <Title order={3} size="h4" mb="md">
          Phases
        </Title>
        <Timeline
          active={entries.filter((e) => e.status === "done").length - 1}
          bulletSize={18}
          lineWidth={2}
          aria-label="Phase timeline"
        >
          {entries.map((entry) => (
            <Timeline.Item
              key={entry.phase}
              color={colourOf(entry.status)}
              title={<PhaseTitle entry={entry} />}
            >
              <PhaseDetail key={entry.status} entry={entry} run={order.run} />
            </Timeline.Item>
          ))}
        </Timeline>
      </Card>
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <InvoiceCard order={order} />
        <ServiceCard order={order} />
      </SimpleGrid>
      <SwitchPortJobs orderId={order.id} jobs={order.switch_port_jobs ?? []} />
      <ActivityLog order={order} />
    </Stack>
  );
}

function ErrorCard({ order, suggestion }: { order: Order; suggestion: Schemas["SuggestionOut"] | null }) {
  const error = order.run?.last_error ?? {};
  const link = suggestion?.link;
  return (
    <Card withBorder bg="red.0" role="region" aria-label="Last error">
      <Text fw={700} c="red.8">
        {String(error.code ?? "Error")}
      </Text>
      <Text size="sm">{String(error.message ?? "")}</Text>
      {suggestion && (
        <Text size="sm" mt="xs" aria-label="Suggested action">
          <b>Suggested action:</b> {suggestion.message}
          {link?.kind === "connection" && (
            <>
              {" "}
              <Anchor component={Link} to={`/connections/${encodeURIComponent(link.id)}`}>
                Open connection {link.id}
              </Anchor>
            </>
          )}
        </Text>
      )}
    </Card>
  );
}

function PhaseTitle({ entry }: { entry: TimelineEntry }) {
  const took = between(entry.startedAt, entry.endedAt);
  return (
    <Group gap="xs">
      <Text fw={600}>{entry.phase}</Text>
      <StatusBadge status={entry.status} />
      {entry.failedAttempts > 0 && (
        <Badge color="orange" variant="outline">
          {entry.failedAttempts} failed attempt{entry.failedAttempts === 1 ? "" : "s"}
        </Badge>
      )}
      {/* Billing is done by the payment's webhook, not timed: it starts and ends at once. */}
      {took !== undefined && took > 0 && (
        <Text size="xs" c="dimmed" aria-label={`${entry.phase} took`}>
          {formatDuration(took)}
        </Text>
      )}
    </Group>
  );
}

function PhaseDetail({ entry, run }: { entry: TimelineEntry; run: Order["run"] }) {
  const hasOutput = entry.output !== null && entry.output !== undefined && entry.status === "done";
  const [opened, { toggle }] = useDisclosure(false);
  // Recorded before attempts were: the run's last exchange stands for the current phase.
  const legacy = entry.current && entry.attempts.length === 0 ? run?.last_upstream : undefined;
  return (
    <Stack gap={4} align="flex-start">
      <Text size="xs" c="dimmed">
        {entry.startedAt ? `started ${formatTime(entry.startedAt)}` : "not started"}
        {entry.lastMessage ? ` · ${entry.lastMessage}` : ""}
      </Text>
      {entry.attempts.length > 0 && (
        <Stack gap={2} w="100%" aria-label={`Attempts of ${entry.phase}`}>
          {entry.attempts.map((attempt, index) => (
            <AttemptRow
              key={`${attempt.run_id}-${attempt.number}`}
              attempt={attempt}
              open={entry.current && index === entry.attempts.length - 1}
            />
          ))}
        </Stack>
      )}
      {legacy && <ExchangeView exchange={legacy} />}
      {hasOutput && (
        <>
          <Anchor component="button" size="xs" onClick={toggle} aria-expanded={opened}>
            {opened ? "Hide" : "Show"} output of {entry.phase}
          </Anchor>
          <Collapse expanded={opened} w="100%">
            <JsonBlock value={entry.output} />
          </Collapse>
        </>
      )}
    </Stack>
  );
}

function AttemptRow({ attempt, open }: { attempt: Attempt; open: boolean }) {
  const [opened, { toggle }] = useDisclosure(open);
  return (
    <div>
      <Group gap="xs">
        <Text size="xs">Attempt {attempt.number}</Text>
        <StatusBadge status={attempt.outcome} />
        <Text size="xs" c="dimmed" aria-label="Duration">
          {attempt.duration_seconds != null ? formatDuration(attempt.duration_seconds * 1000) : "—"}
        </Text>
        {attempt.error && (
          <Text size="xs" c="red.8">
            {attempt.error.message}
          </Text>
        )}
        {attempt.exchanges.length > 0 && (
          <Anchor component="button" size="xs" onClick={toggle} aria-expanded={opened}>
            {opened ? "Hide" : "Show"} upstream exchange{attempt.exchanges.length === 1 ? "" : "s"}
          </Anchor>
        )}
      </Group>
      <Collapse expanded={opened}>
        <Stack gap="sm" mt={4}>
          {attempt.exchanges.map((exchange, index) => (
            <ExchangeView key={index} exchange={exchange} />
          ))}
        </Stack>
      </Collapse>
    </div>
  );
}

function RunActions({ order, run }: { order: Order; run: NonNullable<Order["run"]> }) {
  const user = useUser();
  const act = useOrderAction(order.id);
  // The phases the API lets a retry start from (never billing, nor a completed allocation).
  const startable = order.retry_from;
  const suggestion = order.phases.find((p) => p.phase === run.phase)?.suggestion?.from_phase;
  const suggested = suggestion && startable.includes(suggestion) ? suggestion : (startable.at(-1) ?? null);
  const [from, setFrom] = useState<string | null>(suggested);
  if (!may(user, "operator")) return null;
  // What the API allows: retry a failed run (from its phase or an earlier one); cancel a run
  // that has not completed; re-allocate when the order says nothing refuses it.
  const retryable = run.state === "failed" && startable.length > 0;
  const cancellable = run.state !== "completed" && run.state !== "cancelled";
  const reallocatable = order.reallocation_refusal === null && run.state !== "completed";
  return (
    <Stack gap="xs" align="flex-end">
      <Group gap="xs">
        {retryable && (
          <>
            <Select
              aria-label="Retry from phase"
              data={startable}
              value={from}
              onChange={setFrom}
              w={140}
              size="xs"
              allowDeselect={false}
            />
            <Button
              size="xs"
              loading={act.isPending && act.variables?.action === "retry"}
              onClick={() => act.mutate({ action: "retry", fromPhase: (from ?? run.phase) as Schemas["Phase"] })}
            >
              Retry
            </Button>
          </>
        )}
        {reallocatable && (
          <ConfirmButton
            size="xs"
            variant="outline"
            color="orange"
            label="Re-allocate"
            question={`Give back order ${order.id}'s host and address and provision it again from allocation?`}
            onConfirm={() => act.mutate({ action: "reallocate" })}
          />
        )}
        {cancellable && (
          <ConfirmButton
            size="xs"
            variant="outline"
            color="red"
            label="Cancel order"
            question={`Cancel order ${order.id}? Its run stops and the order will not become active.`}
            onConfirm={() => act.mutate({ action: "cancel" })}
          />
        )}
      </Group>
      {act.isError && <ErrorAlert error={act.error} title="Refused" />}
    </Stack>
  );
}

function InvoiceCard({ order }: { order: Order }) {
  const invoice = useInvoice(order.invoice?.id);
  const deliveries = useInvoiceDeliveries(order.invoice?.id);
  if (!order.invoice) {
    return (
      <Card withBorder>
        <Title order={3} size="h4">
          Invoice
        </Title>
        <Empty>No invoice.</Empty>
      </Card>
    );
  }
  return (
    <Card withBorder role="region" aria-label="Invoice">
      <Group justify="space-between" mb="sm">
        <Title order={3} size="h4">
          Invoice {order.invoice.id}
        </Title>
        <Group gap="xs">
          <Text fw={600}>{formatMoney(order.invoice.amount_minor, order.invoice.currency)}</Text>
          <StatusBadge status={order.invoice.status} />
        </Group>
      </Group>
      <QueryView query={invoice} label="Loading payments">
        {(detail) => (
          <Stack gap="xs">
            <Text size="sm" fw={600}>
              Payments
            </Text>
            {detail.payments.length === 0 ? (
              <Text size="sm" c="dimmed">
                No payment yet.
              </Text>
            ) : (
              detail.payments.map((p) => (
                <Text size="sm" key={p.id} style={{ wordBreak: "break-all" }}>
                  {formatMoney(p.amount_minor, p.currency)} via {p.gateway} ({p.gateway_payment_id}
                  ) · {formatTime(p.created_at)}
                </Text>
              ))
            )}
            <Text size="sm" fw={600}>
              Refunds and chargebacks
            </Text>
            {detail.reversals.length === 0 ? (
              <Text size="sm" c="dimmed">
                None.
              </Text>
            ) : (
              <JsonBlock value={detail.reversals} />
            )}
          </Stack>
        )}
      </QueryView>
      <Text size="sm" fw={600} mt="sm">
        Webhook deliveries
      </Text>
      <QueryView query={deliveries} label="Loading deliveries">
        {(page) =>
          page.items.length === 0 ? (
            <Text size="sm" c="dimmed">
              None.
            </Text>
          ) : (
            page.items.map((d) => (
              <Group key={d.id} gap="xs">
                <Anchor component={Link} to={`/deliveries/${d.id}`} size="sm">
                  #{d.id} {d.gateway} {d.event_type}
                </Anchor>
                <StatusBadge status={d.verification} />
                <StatusBadge status={d.outcome} />
              </Group>
            ))
          )
        }
      </QueryView>
    </Card>
  );
}

function ServiceCard({ order }: { order: Order }) {
  const service = order.service;
  const canReveal = may(useUser(), "operator");
  return (
    <Card withBorder role="region" aria-label="Service">
      <Title order={3} size="h4" mb="sm">
        Service
      </Title>
      {!service ? (
        <Empty>No service yet: it is created when the order is allocated.</Empty>
      ) : (
        <Table withRowBorders={false} verticalSpacing={2}>
          <Table.Tbody>
            <FieldRow name="Service">
              <Anchor component={Link} to={`/services/${service.id}`}>
                Service {service.id}
              </Anchor>
            </FieldRow>
            <FieldRow name="Status">
              <StatusBadge status={service.status} />
            </FieldRow>
            <FieldRow name="Plugin">
              {service.plugin_slug ?? "—"} {service.plugin_version ? `v${service.plugin_version}` : ""}
            </FieldRow>
            <FieldRow name="Panel id">{service.external_id ?? "—"}</FieldRow>
            <FieldRow name="Host">{service.host_id ?? "—"}</FieldRow>
            <FieldRow name="Credentials">
              {service.has_credentials ? (
                canReveal ? (
                  <RevealPassword serviceId={service.id} />
                ) : (
                  "sealed"
                )
              ) : (
                "none"
              )}
            </FieldRow>
          </Table.Tbody>
        </Table>
      )}
      <HoldRows hold={order.hold} />
    </Card>
  );
}


function ActivityLog({ order }: { order: Order }) {
  return (
    <Card withBorder role="region" aria-label="Activity">
      <Title order={3} size="h4" mb="sm">
        Activity
      </Title>
      {order.activity.length === 0 ? (
        <Empty>Nothing happened yet.</Empty>
      ) : (
        <Table.ScrollContainer minWidth={600}>
          <Table striped verticalSpacing={4} fz="sm">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Time</Table.Th>
                <Table.Th>Phase</Table.Th>
                <Table.Th>Event</Table.Th>
                <Table.Th>Message</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {order.activity.map((a) => (
                <Table.Tr key={a.id}>
                  <Table.Td ff="monospace" style={{ whiteSpace: "nowrap" }}>
                    {formatTime(a.at)}
                  </Table.Td>
                  <Table.Td>{a.phase ?? ""}</Table.Td>
                  <Table.Td>{a.event}</Table.Td>
                  <Table.Td>{a.message}</Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
    </Card>
  );
}
