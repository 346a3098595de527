/** A state or status as a coloured badge; the colour follows what the word means. */
import { Badge } from "@mantine/core";

const COLOURS: Record<string, string> = {
  active: "green",
  done: "green",
  completed: "green",
  paid: "green",
  processed: "green",
  verified: "green",
  valid: "green",
  invalid: "red",
  unauthenticated: "orange",
  duplicate: "gray",
  ignored: "gray",
  unknown_invoice: "orange",
  unknown_resource: "orange",
  ok: "green",
  running: "blue",
  provisioning: "blue",
  queued: "cyan",
  waiting: "cyan",
  awaiting_payment: "yellow",
  pending: "gray",
  reset: "gray",
  parked: "orange",
  deferred: "orange",
  suspended: "orange",
  draining: "orange",
  failed: "red",
  rejected: "red",
  refused: "red",
  quarantined: "red",
  cancelled: "gray",
  terminated: "gray",
};

export function colourOf(status: string): string {
  return COLOURS[status] ?? "gray";
}

export function StatusBadge({ status }: { status: string | null | undefined }) {
  const text = status ?? "—";
  return (
    <Badge color={colourOf(text)} variant="light" radius="sm">
      {text.replaceAll("_", " ")}
    </Badge>
  );
}
