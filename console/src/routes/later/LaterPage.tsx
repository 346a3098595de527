/** The slot of a screen that comes in a later release: says so, and what to use meanwhile. */
import { Alert, Title } from "@mantine/core";

export function LaterPage({ title, meanwhile }: { title: string; meanwhile: string }) {
  return (
    <>
      <Title order={2} mb="md">
        {title}
      </Title>
      <Alert color="blue" title="Coming in the next release">
        {meanwhile}
      </Alert>
    </>
  );
}
