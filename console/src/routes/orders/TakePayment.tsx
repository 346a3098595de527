/**
 * Take payment for an order awaiting it: choose a configured gateway (`GET /api/v1/gateways`),
 * start a checkout (`POST /api/v1/invoices/{id}/checkout`, back to this order's page), and hand
 * the customer the payment link (copy it, or open the checkout here). "Check payment now" asks
 * the gateway (`POST /api/v1/invoices/{id}/sync`) instead of waiting for its webhook.
 *
 * Whether the invoice is paid is the API's word: a return from the checkout page proves nothing.
 */
import { Anchor, Button, Card, CopyButton, Group, Select, Stack, Text, TextInput, Title } from "@mantine/core";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState } from "react";
import { useSearchParams } from "react-router";
import { api, type Schemas, unwrap } from "../../api/client";
import { may } from "../../api/auth";
import { ErrorAlert, QueryView } from "../../components/States";
import { StatusBadge } from "../../components/StatusBadge";
import { formatMoney } from "../../components/time";
import { useUser } from "../../session/session";
import { orderKey } from "./queries";

type Invoice = Schemas["InvoiceOut"];

/** The invoice states in which the API accepts a checkout and a payment (`billing.money.OPEN`). */
const OPEN: readonly Invoice["status"][] = ["unpaid", "pending"];

/** The order page's own URL, which the gateway sends the customer back to. */
export function returnUrl(orderId: number, canceled = false): string {
  const url = new URL(`/orders/${orderId}`, window.location.origin);
  if (canceled) url.searchParams.set("payment", "canceled");
  return url.toString();
}

function useGateways() {
  return useQuery({
    queryKey: ["gateways"],
    queryFn: () => unwrap(api.GET("/api/v1/gateways")),
    staleTime: 60_000,
  });
}

/** The payment panel of an order's page; nothing unless its invoice is open. */
export function TakePayment({ orderId, invoice }: { orderId: number; invoice: Invoice | null }) {
  const user = useUser();
  const canceled = useSearchParams()[0].get("payment") === "canceled";
  if (!invoice || !OPEN.includes(invoice.status)) return null;
  return (
    <Card withBorder role="region" aria-label="Take payment">
      <Group justify="space-between" mb="sm">
        <Title order={3} size="h4">
          Awaiting payment
        </Title>
        <Group gap="xs">
          <Text fw={600}>
            Invoice {invoice.id} · {formatMoney(invoice.amount_minor, invoice.currency)}
          </Text>
          <StatusBadge status={invoice.status} />
        </Group>
      </Group>
      {canceled && (
        <Text size="sm" c="orange.8" mb="xs">
          The customer left the checkout without paying: the invoice is still open.
        </Text>
      )}
      {may(user, "operator") ? (
        <PaymentActions orderId={orderId} invoice={invoice} />
      ) : (
        <Text size="sm" c="dimmed">
          Taking a payment needs the operator role.
        </Text>
      )}
    </Card>
  );
}

function PaymentActions({ orderId, invoice }: { orderId: number; invoice: Invoice }) {
  const client = useQueryClient();
  const gateways = useGateways();
  const [gateway, setGateway] = useState<string | null>(null);
  const checkout = useMutation({
    mutationFn: (name: string) =>
      unwrap(
        api.POST("/api/v1/invoices/{invoice_id}/checkout", {
          params: { path: { invoice_id: invoice.id } },
          body: { gateway: name, success_url: returnUrl(orderId), cancel_url: returnUrl(orderId, true) },
        }),
      ),
    onSuccess: () => client.invalidateQueries({ queryKey: ["invoices", invoice.id] }),
  });
  const sync = useMutation({
    mutationFn: () =>
      unwrap(api.POST("/api/v1/invoices/{invoice_id}/sync", { params: { path: { invoice_id: invoice.id } } })),
    onSettled: () => {
      void client.invalidateQueries({ queryKey: orderKey(orderId) });
      void client.invalidateQueries({ queryKey: ["invoices", invoice.id] });
    },
  });
  return (
    <QueryView query={gateways} label="Loading the payment gateways">
      {(configured) => {
        if (configured.length === 0) {
          return <Text size="sm">No payment gateway is configured on this installation.</Text>;
        }
        const chosen = gateway ?? configured[0]!.name;
        return (
          <Stack gap="sm">
            <Group gap="xs" align="flex-end">
              <Select
                label="Gateway"
                data={configured.map((g) => ({
                  value: g.name,
                  label: g.livemode ? g.display_name : `${g.display_name} (test mode)`,
                }))}
                value={chosen}
                onChange={setGateway}
                allowDeselect={false}
                w={220}
              />
              <Button loading={checkout.isPending} onClick={() => checkout.mutate(chosen)}>
                Take payment
              </Button>
              <Button variant="outline" loading={sync.isPending} onClick={() => sync.mutate()}>
                Check payment now
              </Button>
            </Group>
            {checkout.isError && <ErrorAlert error={checkout.error} title="No checkout" />}
            {checkout.data && <PaymentLink checkout={checkout.data} />}
            {sync.isError && <ErrorAlert error={sync.error} title="The gateway could not be asked" />}
            {sync.data && (
              <Text size="sm" aria-label="Payment check">
                {sync.data.results.length === 0
                  ? "No checkout to ask about yet."
                  : sync.data.results.map((r) => `${r.outcome}: ${r.detail}`).join("; ")}
              </Text>
            )}
          </Stack>
        );
      }}
    </QueryView>
  );
}

function PaymentLink({ checkout }: { checkout: Schemas["CheckoutOut"] }) {
  return (
    <Stack gap={4}>
      <Text size="sm">
        Send this link to the customer. The order moves on when the gateway confirms the payment.
      </Text>
      <Text size="xs" c="dimmed" style={{ wordBreak: "break-all" }}>
        {checkout.gateway} checkout {checkout.gateway_ref}, attempt {checkout.attempt}
      </Text>
      <Group gap="xs" wrap="nowrap">
        <TextInput aria-label="Payment link" readOnly value={checkout.redirect_url} style={{ flex: 1 }} />
        <CopyButton value={checkout.redirect_url}>
          {({ copied, copy }) => (
            <Button variant="light" onClick={copy}>
              {copied ? "Copied" : "Copy link"}
            </Button>
          )}
        </CopyButton>
        <Anchor href={checkout.redirect_url} target="_blank" rel="noreferrer">
          Open checkout
        </Anchor>
      </Group>
    </Stack>
  );
}
