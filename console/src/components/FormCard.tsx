/** A form in a card, under its accessible name; its fields are disabled as a whole for someone
 * whose role may not change them (the API would refuse; this only says so up front). */
import { Card, Stack } from "@mantine/core";
import type { FormEvent, ReactNode } from "react";

export function FormCard({
  label,
  locked,
  onSubmit,
  children,
}: {
  label: string;
  locked: boolean;
  onSubmit: (event: FormEvent) => void;
  children: ReactNode;
}) {
  return (
    <Card withBorder>
      <form onSubmit={onSubmit} aria-label={label}>
        <fieldset disabled={locked} style={{ border: 0, padding: 0, margin: 0 }}>
          <Stack>{children}</Stack>
        </fieldset>
      </form>
    </Card>
  );
}
