/** Reveal a service's root password on request: operators only, it asks first, the API audits it. */
import { Code, CopyButton, Button, Group, Stack } from "@mantine/core";
import { useMutation } from "@tanstack/react-query";
import { api, unwrap } from "../api/client";
import { ConfirmButton } from "./ConfirmButton";
import { ErrorAlert } from "./States";

export function RevealPassword({ serviceId }: { serviceId: number }) {
  const reveal = useMutation({
    mutationFn: () =>
      unwrap(
        api.POST("/api/v1/services/{service_id}/password/reveal", {
          params: { path: { service_id: serviceId } },
        }),
      ),
  });
  if (reveal.data) {
    return (
      <Group gap="xs">
        <Code aria-label="Root password">{reveal.data.password}</Code>
        <CopyButton value={reveal.data.password}>
          {({ copied, copy }) => (
            <Button size="compact-xs" variant="default" onClick={copy}>
              {copied ? "Copied" : "Copy"}
            </Button>
          )}
        </CopyButton>
        <Button size="compact-xs" variant="subtle" onClick={() => reveal.reset()}>
          Hide
        </Button>
      </Group>
    );
  }
  return (
    <Stack gap={4} align="flex-start">
      <ConfirmButton
        size="compact-xs"
        variant="outline"
        color="orange"
        label="Reveal root password"
        question="The password is shown on this screen; the reveal is audited with your name."
        onConfirm={() => reveal.mutate()}
      />
      {reveal.isError && <ErrorAlert error={reveal.error} title="Not revealed" />}
    </Stack>
  );
}
