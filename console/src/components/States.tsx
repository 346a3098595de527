/** The three states every screen has besides its data: loading, empty, and an error. */
import { Alert, Center, Code, Loader, Stack, Text } from "@mantine/core";
import type { UseQueryResult } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { ApiError } from "../api/client";

export function Loading({ label = "Loading" }: { label?: string }) {
  return (
    <Center py="xl" role="status" aria-live="polite">
      <Loader size="sm" aria-hidden />
      <Text ml="sm" c="dimmed">
        {label}…
      </Text>
    </Center>
  );
}

export function Empty({ children }: { children: ReactNode }) {
  return (
    <Center py="xl">
      <Text c="dimmed">{children}</Text>
    </Center>
  );
}

/** An error as the API said it: its message, code and details. */
export function ErrorAlert({ error, title }: { error: unknown; title?: string }) {
  const apiError = error instanceof ApiError ? error : undefined;
  const message = error instanceof Error ? error.message : String(error);
  const details = apiError && Object.keys(apiError.details).length > 0 ? apiError.details : null;
  return (
    <Alert color="red" title={title ?? "The request failed"} role="alert">
      <Stack gap={4}>
        <Text size="sm">{message}</Text>
        {apiError && (
          <Text size="xs" c="dimmed">
            {apiError.code} · HTTP {apiError.status}
          </Text>
        )}
        {details && (
          <Code block fz="xs">
            {JSON.stringify(details, null, 2)}
          </Code>
        )}
      </Stack>
    </Alert>
  );
}

/** Render `query`'s data with `children`, or its loading or error state. */
export function QueryView<T>({
  query,
  label,
  children,
}: {
  query: UseQueryResult<T>;
  label?: string;
  children: (data: T) => ReactNode;
}) {
  if (query.isPending) return <Loading {...(label ? { label } : {})} />;
  if (query.isError) return <ErrorAlert error={query.error} />;
  return <>{children(query.data)}</>;
}
