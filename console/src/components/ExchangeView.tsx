/** One upstream exchange, as the API stored it (already redacted): request, then response. */
import { Badge, Group, Stack, Text } from "@mantine/core";
import { JsonBlock } from "./JsonBlock";

interface Side {
  method?: string;
  url?: string;
  status?: number | null;
  headers?: Record<string, unknown>;
  body?: unknown;
}

export interface Exchange {
  upstream?: string;
  operation?: string;
  request?: Side;
  response?: Side;
  error?: string | null;
}

function asExchange(value: unknown): Exchange {
  return value && typeof value === "object" ? (value as Exchange) : {};
}

export function ExchangeView({ exchange }: { exchange: unknown }) {
  const { upstream, operation, request, response, error } = asExchange(exchange);
  return (
    <Stack gap="xs" aria-label="Upstream exchange">
      {(upstream || operation) && (
        <Text size="sm" fw={500}>
          {[upstream, operation].filter(Boolean).join(": ")}
        </Text>
      )}
      {request && (
        <section aria-label="Upstream request">
          <Text size="xs" fw={700} c="dimmed">
            REQUEST
          </Text>
          <Text size="sm" ff="monospace">
            {request.method} {request.url}
          </Text>
          {request.headers && Object.keys(request.headers).length > 0 && (
            <JsonBlock value={request.headers} label="Request headers" />
          )}
          {request.body !== undefined && request.body !== null && (
            <JsonBlock value={request.body} label="Request body" />
          )}
        </section>
      )}
      {response && (
        <section aria-label="Upstream response">
          <Group gap="xs">
            <Text size="xs" fw={700} c="dimmed">
              RESPONSE
            </Text>
            {response.status != null && (
              <Badge color={response.status < 400 ? "green" : "red"} variant="light">
                HTTP {response.status}
              </Badge>
            )}
          </Group>
          {response.body !== undefined && response.body !== null && (
            <JsonBlock value={response.body} label="Response body" />
          )}
        </section>
      )}
      {error && (
        <Text size="sm" c="red">
          {error}
        </Text>
      )}
    </Stack>
  );
}
