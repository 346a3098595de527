/** A secret the API answers once (a generated password, a new API token): shown here with a
 * copy button and a warning, until the operator closes it; no screen can show it again. */
import { Alert, Button, Code, CopyButton, Group, Stack, Text } from "@mantine/core";

export function ShownOnce({
  label,
  value,
  note,
  onDone,
}: {
  /** What the secret is ("Password of ann"): the region's and the value's accessible name. */
  label: string;
  value: string;
  /** What to do with it. */
  note?: string;
  /** Close it (the secret is then gone from this screen for good). */
  onDone: () => void;
}) {
  return (
    <Alert color="yellow" title={label} role="region" aria-label={label}>
      <Stack gap="xs">
        <Text size="sm" fw={500}>
          Copy it now: it is shown this once and never again.{note ? ` ${note}` : ""}
        </Text>
        <Group gap="xs">
          <Code fz="sm" aria-label={`${label}: value`} style={{ userSelect: "all" }}>
            {value}
          </Code>
          <CopyButton value={value}>
            {({ copied, copy }) => (
              <Button size="compact-sm" variant="default" onClick={copy}>
                {copied ? "Copied" : "Copy"}
              </Button>
            )}
          </CopyButton>
        </Group>
        <Group>
          <Button size="compact-sm" variant="light" color="yellow" onClick={onDone}>
            I have copied it
          </Button>
        </Group>
      </Stack>
    </Alert>
  );
}
